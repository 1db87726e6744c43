"""sys/mounts through hvac (enable, list, tune, disable) and KV v1 on the new mount."""
from hvac_common import client, env, expect_raises, hvac, run


def scenario(r):
    c = client(env("ARCA_TOKEN"))
    c.sys.enable_secrets_engine(backend_type="kv", path="compat-kv1", description="hvac v1", options={"version": "1"})
    c.sys.enable_secrets_engine(backend_type="kv", path="compat-kv2", options={"version": "2"})
    mounts = c.sys.list_mounted_secrets_engines()
    # hvac 0.11 returns the whole body: mounts at the top level (sys injector) and under "data".
    r["mount_top_level"] = {k: mounts["compat-kv1/"][k] for k in ("type", "description", "options")}
    r["mount_in_data"] = sorted(k for k in mounts["data"] if k.startswith("compat-"))
    r["enable_twice"] = expect_raises(hvac.exceptions.InvalidRequest, c.sys.enable_secrets_engine, backend_type="kv", path="compat-kv1")
    c.sys.tune_mount_configuration(path="compat-kv1", default_lease_ttl="1h", description="tuned")
    tuned = c.sys.read_mount_configuration(path="compat-kv1")
    r["tuned"] = {"default_lease_ttl": tuned["data"]["default_lease_ttl"], "description": tuned["data"].get("description")}
    r["kv2_options"] = c.sys.retrieve_mount_option(mount_point="compat-kv2", option_name="version")

    kv = c.secrets.kv.v1
    kv.create_or_update_secret(path="a/b", secret={"x": "1"}, mount_point="compat-kv1")
    kv.create_or_update_secret(path="a/c", secret={"y": 2, "nested": {"z": True}}, mount_point="compat-kv1")
    r["read"] = kv.read_secret(path="a/c", mount_point="compat-kv1")["data"]
    r["list"] = sorted(kv.list_secrets(path="a", mount_point="compat-kv1")["data"]["keys"])
    r["list_root"] = kv.list_secrets(path="", mount_point="compat-kv1")["data"]["keys"]
    kv.delete_secret(path="a/b", mount_point="compat-kv1")
    r["read_deleted"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret, path="a/b", mount_point="compat-kv1")
    r["list_after_delete"] = kv.list_secrets(path="a", mount_point="compat-kv1")["data"]["keys"]

    # lease_duration of a v1 read: the mount's default lease TTL (768h unless tuned), or the secret's own ttl.
    c.sys.enable_secrets_engine(backend_type="kv", path="compat-kv1-lease", options={"version": "1"})
    kv.create_or_update_secret(path="plain", secret={"x": "1"}, mount_point="compat-kv1-lease")
    kv.create_or_update_secret(path="own", secret={"x": "1", "ttl": "30m"}, mount_point="compat-kv1-lease")
    r["lease_default"] = kv.read_secret(path="plain", mount_point="compat-kv1-lease")["lease_duration"]
    r["lease_own_ttl"] = kv.read_secret(path="own", mount_point="compat-kv1-lease")["lease_duration"]
    c.sys.tune_mount_configuration(path="compat-kv1-lease", default_lease_ttl="2h")
    r["lease_tuned"] = kv.read_secret(path="plain", mount_point="compat-kv1-lease")["lease_duration"]
    c.sys.disable_secrets_engine(path="compat-kv1-lease")

    # sys/remount through hvac's move_backend: the mount and its secrets move, the old path is gone.
    moved = c.sys.move_backend("compat-kv2", "compat-kv2-moved")
    # hvac's adapter turns a JSON answer into a dict (OpenBao answers 200 with the migration id).
    migration = moved["data"]["migration_id"]
    r["move_top_level_id"] = moved["migration_id"] == migration
    r["move_info"] = c.read("sys/remount/status/" + migration)["data"]["migration_info"]
    c.secrets.kv.v2.create_or_update_secret(path="m", secret={"k": "v"}, mount_point="compat-kv2-moved")
    c.sys.move_backend("compat-kv2-moved", "compat-kv2")
    r["after_move_back"] = c.secrets.kv.v2.read_secret_version(path="m", mount_point="compat-kv2")["data"]["data"]
    r["move_onto_used"] = expect_raises(hvac.exceptions.InvalidRequest, c.sys.move_backend, "compat-kv2", "compat-kv1")

    c.sys.disable_secrets_engine(path="compat-kv1")
    c.sys.disable_secrets_engine(path="compat-kv2")
    r["after_disable"] = sorted(k for k in c.sys.list_mounted_secrets_engines()["data"] if k.startswith("compat-"))
    r["read_unmounted"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret, path="a/c", mount_point="compat-kv1")


run(scenario)
