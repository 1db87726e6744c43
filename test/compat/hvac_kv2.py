"""KV v2 through hvac: the whole lifecycle of a secret, versions, metadata and the LIST verb."""
from hvac_common import client, env, expect_raises, fail, hvac, run


def scenario(r):
    kv = client(env("ARCA_TOKEN")).secrets.kv.v2
    kv.configure(max_versions=5, mount_point="secret")
    r["config"] = kv.read_configuration()["data"]

    v1 = kv.create_or_update_secret(path="app/db", secret={"user": "a", "pass": "1"}, cas=0)
    r["v1_version"] = v1["data"]["version"]
    r["cas_zero_again"] = expect_raises(hvac.exceptions.InvalidRequest, kv.create_or_update_secret, path="app/db", secret={"x": "y"}, cas=0)
    v2 = kv.create_or_update_secret(path="app/db", secret={"user": "b", "pass": "2"}, cas=1)
    r["v2_version"] = v2["data"]["version"]
    r["cas_stale"] = expect_raises(hvac.exceptions.InvalidRequest, kv.create_or_update_secret, path="app/db", secret={"x": "y"}, cas=1)

    latest = kv.read_secret_version(path="app/db")["data"]
    r["latest"] = {"data": latest["data"], "version": latest["metadata"]["version"]}
    r["by_version_1"] = kv.read_secret_version(path="app/db", version=1)["data"]["data"]

    patched = kv.patch(path="app/db", secret={"pass": "3"})
    r["patched_version"] = patched["data"]["version"]
    r["after_patch"] = kv.read_secret_version(path="app/db")["data"]["data"]

    kv.create_or_update_secret(path="app/cache", secret={"k": "v"})
    kv.create_or_update_secret(path="app/nested/deep", secret={"k": "v"})
    r["list_app"] = sorted(kv.list_secrets(path="app")["data"]["keys"])
    r["list_root"] = kv.list_secrets(path="")["data"]["keys"]
    r["list_missing"] = expect_raises(hvac.exceptions.InvalidPath, kv.list_secrets, path="nope")

    kv.delete_latest_version_of_secret(path="app/db")
    # A deleted version reads as 404; hvac raises InvalidPath (OpenBao also sends data with deletion_time).
    r["read_deleted"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret_version, path="app/db")
    kv.undelete_secret_versions(path="app/db", versions=[3])
    r["after_undelete"] = kv.read_secret_version(path="app/db")["data"]["data"]
    kv.destroy_secret_versions(path="app/db", versions=[1])
    r["read_destroyed_v1"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret_version, path="app/db", version=1)

    kv.update_metadata(path="app/db", max_versions=2, cas_required=True)
    meta = kv.read_secret_metadata(path="app/db")["data"]
    r["metadata"] = {
        "max_versions": meta["max_versions"],
        "cas_required": meta["cas_required"],
        "current_version": meta["current_version"],
        "oldest_version": meta["oldest_version"],
        "versions": sorted(meta["versions"].keys(), key=int),
        "v1_destroyed": meta["versions"].get("1", {}).get("destroyed"),
    }
    r["cas_required_no_cas"] = expect_raises(hvac.exceptions.InvalidRequest, kv.create_or_update_secret, path="app/db", secret={"x": "y"})

    kv.delete_metadata_and_all_versions(path="app/db")
    r["read_after_metadata_delete"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret_version, path="app/db")
    r["metadata_after_delete"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret_metadata, path="app/db")
    r["list_after_delete"] = sorted(kv.list_secrets(path="app")["data"]["keys"])
    r["missing_secret"] = expect_raises(hvac.exceptions.InvalidPath, kv.read_secret_version, path="never/was")
    if r["v1_version"] != 1:
        fail("first write should be version 1, got %r" % r["v1_version"])


run(scenario)
