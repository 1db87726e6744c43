"""auth/token/*: create, lookup, lookup_self, renew_self, revoke; a revoked token is refused."""
from hvac_common import client, env, expect_raises, hvac, run


def scenario(r):
    root = client(env("ARCA_TOKEN"))
    created = root.auth.token.create(policies=["default"], ttl="1h", meta={"team": "compat"}, display_name="hvac")
    auth = created["auth"]
    token = auth["client_token"]
    r["created"] = {
        "token_prefix": token[:4],
        "policies": auth["policies"],
        "lease_duration": auth["lease_duration"],
        "renewable": auth["renewable"],
        "metadata": auth["metadata"],
        "has_accessor": bool(auth["accessor"]),
    }
    looked = root.auth.token.lookup(token)["data"]
    r["lookup"] = {
        "id_matches": looked["id"] == token,
        "policies": looked["policies"],
        "display_name": looked["display_name"],
        "meta": looked["meta"],
        "ttl_positive": looked["ttl"] > 0,
    }
    child = client(token)
    r["is_authenticated"] = child.is_authenticated()
    self_data = child.auth.token.lookup_self()["data"]
    r["lookup_self_accessor_matches"] = self_data["accessor"] == auth["accessor"]
    by_accessor = root.auth.token.lookup_accessor(auth["accessor"])["data"]
    r["lookup_accessor_display_name"] = by_accessor["display_name"]
    renewed = child.auth.token.renew_self(increment="2h")
    r["renew_self_lease_duration"] = renewed["auth"]["lease_duration"]

    # Wrapping is not implemented: a wrapped request must be refused, never answered in clear.
    r["wrap_refused"] = expect_raises(hvac.exceptions.InvalidRequest, root.auth.token.create, policies=["default"], wrap_ttl="60s")

    root.auth.token.revoke(token)
    r["after_revoke_is_authenticated"] = child.is_authenticated()
    r["lookup_self_after_revoke"] = expect_raises(hvac.exceptions.Forbidden, child.auth.token.lookup_self)


run(scenario)
