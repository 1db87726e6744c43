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

    # Response wrapping: the token comes back only behind a single-use wrapping token.
    wrapped = root.auth.token.create(policies=["default"], wrap_ttl="60s")
    info = wrapped["wrap_info"]
    r["wrapped"] = {"auth_hidden": wrapped["auth"] is None, "ttl": info["ttl"], "creation_path": info["creation_path"]}
    looked_up = root.adapter.post("/v1/sys/wrapping/lookup", json={"token": info["token"]})
    r["wrap_lookup_path"] = looked_up["data"]["creation_path"]
    unwrapped = client(info["token"]).sys.unwrap()
    r["unwrapped_has_token"] = unwrapped["auth"]["client_token"].startswith("hvs.")
    r["second_unwrap"] = expect_raises(hvac.exceptions.InvalidRequest, root.adapter.post, "/v1/sys/wrapping/unwrap", json={"token": info["token"]})

    root.auth.token.revoke(token)
    r["after_revoke_is_authenticated"] = child.is_authenticated()
    r["lookup_self_after_revoke"] = expect_raises(hvac.exceptions.Forbidden, child.auth.token.lookup_self)


run(scenario)
