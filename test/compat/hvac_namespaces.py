"""Namespaces through hvac: sys/namespaces calls, and a client built with namespace= driving KV v2, policies
and tokens inside one; its tokens carry the namespace id and mean nothing outside."""
import hvac as hvac_module
from hvac_common import client, env, expect_raises, hvac, run


def ns_client(namespace, token):
    return hvac_module.Client(url=env("ARCA_URL"), token=token, namespace=namespace, timeout=10)


def scenario(r):
    name = env("ARCA_NS")
    root = client(env("ARCA_TOKEN"))
    created = root.sys.create_namespace(path=name)
    r["created_path"] = created["data"]["path"]
    ns_id = created["data"]["id"]
    r["listed"] = name + "/" in root.sys.list_namespaces()["data"]["keys"]

    inside = ns_client(name, env("ARCA_TOKEN"))
    inside.sys.enable_secrets_engine(backend_type="kv", path="secret", options={"version": "2"})
    inside.secrets.kv.v2.create_or_update_secret(path="app", secret={"password": "in-namespace"})
    r["read_inside"] = inside.secrets.kv.v2.read_secret_version(path="app")["data"]["data"]
    r["missing_outside"] = expect_raises(hvac.exceptions.InvalidPath, root.secrets.kv.v2.read_secret_version, path="app")

    inside.sys.create_or_update_policy(name="app-reader", policy='path "secret/data/app" { capabilities = ["read"] }')
    r["policies_inside"] = sorted(inside.sys.list_policies()["data"]["policies"])
    token = inside.auth.token.create(policies=["app-reader"], ttl="10m")["auth"]["client_token"]
    r["token_suffix_is_ns_id"] = token.endswith("." + ns_id)
    reader = ns_client(name, token)
    r["reader_reads"] = reader.secrets.kv.v2.read_secret_version(path="app")["data"]["data"]
    r["reader_cannot_write"] = expect_raises(hvac.exceptions.Forbidden, reader.secrets.kv.v2.create_or_update_secret, path="app", secret={"x": "y"})
    r["token_useless_outside"] = expect_raises(hvac.exceptions.Forbidden, client(token).auth.token.lookup_self)
    r["lookup_self_inside"] = reader.auth.token.lookup_self()["data"]["policies"]

    inside.sys.disable_secrets_engine(path="secret")
    root.sys.delete_namespace(path=name)
    r["gone"] = expect_raises(hvac.exceptions.InvalidPath, inside.sys.list_mounted_secrets_engines)


run(scenario)
