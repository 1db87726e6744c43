"""Shared helpers for the hvac compatibility scripts.

Each script talks to a running Arca server through hvac (a client nobody here wrote), collects what it
observed into a dict and prints it as one JSON document on stdout; vitest asserts on it. Anything
unexpected exits non-zero with a message on stderr, so a failure says which step broke and why.
"""
import json
import os
import sys
import traceback

try:
    import hvac  # noqa: F401  (re-exported for the scripts)
    import hvac.exceptions  # noqa: F401
except ImportError as exc:  # pragma: no cover - the vitest side checks this before running us
    print("hvac is not importable: %s" % exc, file=sys.stderr)
    sys.exit(3)


def env(name):
    value = os.environ.get(name)
    if not value:
        fail("environment variable %s is not set" % name)
    return value


def client(token=None):
    return hvac.Client(url=env("ARCA_URL"), token=token, timeout=10)


def fail(message):
    print("FAIL: %s" % message, file=sys.stderr)
    sys.exit(1)


def expect_raises(exc_type, fn, *args, **kwargs):
    """Calls fn and returns the exception's class name and errors; fails if it did not raise exc_type."""
    try:
        result = fn(*args, **kwargs)
    except exc_type as exc:
        return {"exception": type(exc).__name__, "errors": getattr(exc, "errors", None)}
    except Exception as exc:  # the wrong exception is a finding too: report which one
        fail("%s: expected %s, got %s: %s" % (getattr(fn, "__name__", fn), exc_type.__name__, type(exc).__name__, exc))
    fail("%s: expected %s, got a result: %r" % (getattr(fn, "__name__", fn), exc_type.__name__, result))


def run(scenario):
    """Runs scenario(results) and prints the results as JSON; exceptions become a clear non-zero exit."""
    results = {}
    try:
        scenario(results)
    except SystemExit:
        raise
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        fail("unexpected %s: %s (results so far: %s)" % (type(exc).__name__, exc, json.dumps(results, default=str)))
    print(json.dumps(results, default=str))
