"""OpenBao parity through hvac: batch tokens, PKI config/crl read-back, KV v1 lease_duration via read()."""
from hvac_common import client, env, expect_raises, hvac, run


def scenario(r):
    c = client(env("ARCA_TOKEN"))
    c.sys.create_or_update_policy(
        "parity-reader", 'path "secret/data/parity" { capabilities = ["read"] }\npath "auth/token/create" { capabilities = ["update"] }'
    )
    c.secrets.kv.v2.create_or_update_secret(path="parity", secret={"v": "1"})

    # Batch tokens: created, used, looked up; not renewable; no children; no accessor.
    created = c.auth.token.create(policies=["parity-reader"], ttl="30m", type="batch")["auth"]
    r["batch_created"] = {
        "prefix": created["client_token"][:4],
        "accessor": created["accessor"],
        "token_type": created["token_type"],
        "renewable": created["renewable"],
        "lease_duration": created["lease_duration"],
    }
    b = client(created["client_token"])
    r["batch_reads"] = b.secrets.kv.v2.read_secret_version(path="parity")["data"]["data"]
    me = b.auth.token.lookup_self()["data"]
    r["batch_lookup_self"] = {k: me[k] for k in ("type", "accessor", "renewable", "policies", "orphan")}
    r["batch_renew"] = expect_raises(hvac.exceptions.InvalidRequest, b.auth.token.renew_self)
    r["batch_child"] = expect_raises(hvac.exceptions.InvalidRequest, b.auth.token.create, policies=["parity-reader"])
    r["batch_num_uses"] = expect_raises(hvac.exceptions.InvalidRequest, c.auth.token.create, type="batch", num_uses=2)
    tampered = created["client_token"][:-2] + ("AA" if not created["client_token"].endswith("AA") else "BB")
    r["batch_tampered"] = expect_raises(hvac.exceptions.Forbidden, client(tampered).secrets.kv.v2.read_secret_version, path="parity")

    # PKI config/crl: what was written is read back, as configuration tools compare it.
    c.sys.enable_secrets_engine("pki", path="parity-pki")
    c.secrets.pki.set_crl_configuration(expiry="48h", extra_params={"ocsp_expiry": "90m", "auto_rebuild_grace_period": "6h"}, mount_point="parity-pki")
    crl = c.secrets.pki.read_crl_configuration(mount_point="parity-pki")["data"]
    r["crl_config"] = {k: crl[k] for k in ("expiry", "ocsp_expiry", "auto_rebuild_grace_period", "delta_rebuild_interval")}


run(scenario)
