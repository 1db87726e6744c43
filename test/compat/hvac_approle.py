"""AppRole provisioning, end to end through hvac: an admin (root token) enables approle, writes a policy
reading secret/data/db/*, creates a role with it, reads its role_id and issues a secret_id; a provisioner
logs in with both and reads a database password from KV v2; anything outside the policy is Forbidden."""
from hvac_common import client, env, expect_raises, hvac, run

POLICY = """
path "secret/data/db/*" {
  capabilities = ["read"]
}
"""


def scenario(r):
    admin = client(env("ARCA_TOKEN"))
    admin.sys.enable_auth_method("approle")
    r["auth_methods_has_approle"] = "approle/" in admin.sys.list_auth_methods()["data"]
    admin.sys.create_or_update_policy(name="db-reader", policy=POLICY)
    admin.secrets.kv.v2.create_or_update_secret(path="db/orders", secret={"username": "orders", "password": "pg-Xq7-canary"})
    admin.secrets.kv.v2.create_or_update_secret(path="payments/key", secret={"key": "not-for-provisioners"})

    admin.auth.approle.create_or_update_approle(
        "provisioner", token_policies=["db-reader"], token_ttl="20m", token_max_ttl="30m", secret_id_num_uses=2, secret_id_ttl="10m"
    )
    role = admin.auth.approle.read_role("provisioner")["data"]
    r["role"] = {k: role[k] for k in ("token_policies", "token_ttl", "token_max_ttl", "secret_id_num_uses", "secret_id_ttl", "bind_secret_id", "token_type")}
    r["roles"] = admin.auth.approle.list_roles()["data"]["keys"]
    role_id = admin.auth.approle.read_role_id("provisioner")["data"]["role_id"]
    generated = admin.auth.approle.generate_secret_id("provisioner", metadata={"host": "db-migrator"})["data"]
    secret_id = generated["secret_id"]
    r["generated"] = {"ttl": generated["secret_id_ttl"], "num_uses": generated["secret_id_num_uses"], "has_accessor": bool(generated["secret_id_accessor"])}
    r["accessors"] = admin.auth.approle.list_secret_id_accessors("provisioner")["data"]["keys"] == [generated["secret_id_accessor"]]
    looked = admin.auth.approle.read_secret_id("provisioner", secret_id)["data"]
    r["lookup"] = {"metadata": looked["metadata"], "num_uses": looked["secret_id_num_uses"], "secret_in_lookup": secret_id in str(looked)}

    # The provisioner: no token, only role_id + secret_id.
    provisioner = hvac.Client(url=env("ARCA_URL"), timeout=10)
    login = provisioner.auth.approle.login(role_id=role_id, secret_id=secret_id)["auth"]
    r["login"] = {
        "policies": login["policies"],
        "metadata": login["metadata"],
        "lease_duration": login["lease_duration"],
        "renewable": login["renewable"],
        "token_prefix": login["client_token"][:4],
    }
    r["is_authenticated"] = provisioner.is_authenticated()
    secret = provisioner.secrets.kv.v2.read_secret_version(path="db/orders")["data"]["data"]
    r["db_password"] = secret["password"]
    r["outside_policy"] = expect_raises(hvac.exceptions.Forbidden, provisioner.secrets.kv.v2.read_secret_version, path="payments/key")
    r["write_denied"] = expect_raises(hvac.exceptions.Forbidden, provisioner.secrets.kv.v2.create_or_update_secret, path="db/orders", secret={"password": "x"})
    r["admin_path_denied"] = expect_raises(hvac.exceptions.Forbidden, provisioner.auth.approle.generate_secret_id, "provisioner")

    # Wrong credentials: one message for both halves.
    anon = hvac.Client(url=env("ARCA_URL"), timeout=10)
    r["wrong_secret"] = expect_raises(hvac.exceptions.InvalidRequest, anon.auth.approle.login, role_id=role_id, secret_id="nope", use_token=False)
    r["wrong_role"] = expect_raises(hvac.exceptions.InvalidRequest, anon.auth.approle.login, role_id="nope", secret_id=secret_id, use_token=False)

    # secret_id_num_uses=2: the second login spends the last use, the third is refused.
    anon.auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)
    r["third_login"] = expect_raises(hvac.exceptions.InvalidRequest, anon.auth.approle.login, role_id=role_id, secret_id=secret_id, use_token=False)

    # Destroy by accessor ends a secret ID at once.
    second = admin.auth.approle.generate_secret_id("provisioner")["data"]
    admin.auth.approle.destroy_secret_id_accessor("provisioner", second["secret_id_accessor"])
    r["after_destroy"] = expect_raises(hvac.exceptions.InvalidRequest, anon.auth.approle.login, role_id=role_id, secret_id=second["secret_id"], use_token=False)


run(scenario)
