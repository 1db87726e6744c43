"""sys/policy: write, read, list; a token whose policy lacks a path gets hvac.exceptions.Forbidden."""
from hvac_common import client, env, expect_raises, hvac, run

POLICY = """
path "secret/data/allowed/*" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/allowed/*" {
  capabilities = ["list"]
}
"""



def ours(names):
    # Other tests share the dev server and add policies of their own: look only at this test's and the built-ins.
    return sorted(n for n in names if n.startswith("compat-") or n in ("default", "root"))

def scenario(r):
    root = client(env("ARCA_TOKEN"))
    root.sys.create_or_update_policy(name="compat-reader", policy=POLICY)
    # hvac also accepts a dict and serialises it to JSON policy text.
    root.sys.create_or_update_policy(name="compat-json", policy={"path": {"secret/data/json": {"capabilities": ["read"]}}})
    read = root.sys.read_policy(name="compat-reader")
    r["read_rules_match"] = read["data"]["rules"].strip() == POLICY.strip()
    r["read_name"] = read["data"]["name"]
    r["list"] = ours(root.sys.list_policies()["data"]["policies"])

    token = root.auth.token.create(policies=["compat-reader"], ttl="10m")["auth"]["client_token"]
    limited = client(token)
    limited.secrets.kv.v2.create_or_update_secret(path="allowed/one", secret={"k": "v"})
    r["allowed_read"] = limited.secrets.kv.v2.read_secret_version(path="allowed/one")["data"]["data"]
    r["forbidden_write"] = expect_raises(hvac.exceptions.Forbidden, limited.secrets.kv.v2.create_or_update_secret, path="denied/one", secret={"k": "v"})
    r["forbidden_policy_read"] = expect_raises(hvac.exceptions.Forbidden, limited.sys.read_policy, name="compat-reader")
    caps = root.sys.get_capabilities(paths=["secret/data/allowed/x"], token=token)
    r["capabilities"] = sorted(caps["capabilities"])
    r["capabilities_self"] = sorted(limited.sys.get_capabilities(paths=["secret/data/denied/x"])["capabilities"])

    root.sys.delete_policy(name="compat-json")
    r["list_after_delete"] = ours(root.sys.list_policies()["data"]["policies"])
    r["read_missing_policy"] = expect_raises(hvac.exceptions.InvalidPath, root.sys.read_policy, name="compat-json")


run(scenario)
