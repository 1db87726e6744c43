"""Exits 0 when hvac imports with this interpreter; the vitest side skips (or fails in CI) otherwise."""
import hvac  # noqa: F401

print("{}")
