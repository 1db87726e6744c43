"""Transit through hvac: every client.secrets.transit call an application uses, against a dev server."""
import base64
import hashlib

from hvac_common import client, env, expect_raises, fail, hvac, run

MOUNT = "compat-transit"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    return base64.b64decode(s).decode()


def status(resp):
    """hvac returns a requests.Response for 204 answers and a dict for JSON ones; record which it was."""
    if isinstance(resp, dict):
        return "json"
    return getattr(resp, "status_code", None)


def scenario(r):
    c = client(env("ARCA_TOKEN"))
    c.sys.enable_secrets_engine("transit", path=MOUNT)
    t = c.secrets.transit

    # keys
    r["create_aes"] = status(t.create_key("aes", mount_point=MOUNT))
    t.create_key("ed", key_type="ed25519", mount_point=MOUNT)
    t.create_key("ec", key_type="ecdsa-p256", mount_point=MOUNT)
    t.create_key("rsa", key_type="rsa-2048", mount_point=MOUNT)
    t.create_key("derived", derived=True, convergent_encryption=True, mount_point=MOUNT)
    t.create_key("portable", exportable=True, allow_plaintext_backup=True, mount_point=MOUNT)
    key = t.read_key("aes", mount_point=MOUNT)["data"]
    r["read_key"] = {
        "name": key["name"],
        "type": key["type"],
        "versions": sorted(key["keys"].keys()),
        "latest_version": key["latest_version"],
        "min_decryption_version": key["min_decryption_version"],
        "supports_encryption": key["supports_encryption"],
        "deletion_allowed": key["deletion_allowed"],
    }
    ed = t.read_key("ed", mount_point=MOUNT)["data"]
    r["read_ed_public_key_len"] = len(base64.b64decode(ed["keys"]["1"]["public_key"]))
    r["list_keys"] = sorted(t.list_keys(mount_point=MOUNT)["data"]["keys"])
    r["read_missing"] = expect_raises(hvac.exceptions.InvalidPath, t.read_key, "nope", mount_point=MOUNT)

    # encrypt / decrypt / rewrap
    enc = t.encrypt_data("aes", plaintext=b64("hello"), mount_point=MOUNT)["data"]
    r["ciphertext_prefix"] = enc["ciphertext"][:9]
    r["decrypted"] = unb64(t.decrypt_data("aes", ciphertext=enc["ciphertext"], mount_point=MOUNT)["data"]["plaintext"])
    ctx = b64("tenant-1")
    c1 = t.encrypt_data("derived", plaintext=b64("same"), context=ctx, mount_point=MOUNT)["data"]["ciphertext"]
    c2 = t.encrypt_data("derived", plaintext=b64("same"), context=ctx, mount_point=MOUNT)["data"]["ciphertext"]
    r["convergent_equal"] = c1 == c2
    r["derived_decrypted"] = unb64(t.decrypt_data("derived", ciphertext=c1, context=ctx, mount_point=MOUNT)["data"]["plaintext"])
    batch = t.encrypt_data("aes", plaintext=None, batch_input=[{"plaintext": b64("a")}, {"plaintext": b64("b")}], mount_point=MOUNT)["data"]
    items = batch["batch_results"]
    dec_batch = t.decrypt_data("aes", ciphertext=None, batch_input=[{"ciphertext": i["ciphertext"]} for i in items], mount_point=MOUNT)["data"]
    r["batch_decrypted"] = [unb64(i["plaintext"]) for i in dec_batch["batch_results"]]
    r["decrypt_bad"] = expect_raises(hvac.exceptions.InvalidRequest, t.decrypt_data, "aes", ciphertext="vault:v1:AAAA", mount_point=MOUNT)

    r["rotate"] = status(t.rotate_key("aes", mount_point=MOUNT))
    rewrapped = t.rewrap_data("aes", ciphertext=enc["ciphertext"], mount_point=MOUNT)["data"]
    r["rewrapped_prefix"] = rewrapped["ciphertext"][:9]
    r["rewrapped_decrypted"] = unb64(t.decrypt_data("aes", ciphertext=rewrapped["ciphertext"], mount_point=MOUNT)["data"]["plaintext"])
    r["update_config"] = status(t.update_key_configuration("aes", min_decryption_version=2, mount_point=MOUNT))
    r["min_decryption_version"] = t.read_key("aes", mount_point=MOUNT)["data"]["min_decryption_version"]
    r["decrypt_old"] = expect_raises(hvac.exceptions.InvalidRequest, t.decrypt_data, "aes", ciphertext=enc["ciphertext"], mount_point=MOUNT)

    # data keys
    dk = t.generate_data_key("aes", key_type="plaintext", bits=256, mount_point=MOUNT)["data"]
    r["datakey_plaintext_len"] = len(base64.b64decode(dk["plaintext"]))
    r["datakey_roundtrip"] = t.decrypt_data("aes", ciphertext=dk["ciphertext"], mount_point=MOUNT)["data"]["plaintext"] == dk["plaintext"]
    wrapped = t.generate_data_key("aes", key_type="wrapped", mount_point=MOUNT)["data"]
    r["datakey_wrapped_has_plaintext"] = "plaintext" in wrapped

    # sign / verify
    data = b64("sign me")
    r["verify"] = {}
    for name in ("ed", "ec", "rsa"):
        sig = t.sign_data(name, hash_input=data, mount_point=MOUNT)["data"]["signature"]
        good = t.verify_signed_data(name, hash_input=data, signature=sig, mount_point=MOUNT)["data"]["valid"]
        bad = t.verify_signed_data(name, hash_input=b64("other"), signature=sig, mount_point=MOUNT)["data"]["valid"]
        r["verify"][name] = [sig[:9], good, bad]
    sig = t.sign_data("rsa", hash_input=data, hash_algorithm="sha2-512", signature_algorithm="pkcs1v15", mount_point=MOUNT)["data"]["signature"]
    r["verify_rsa_pkcs1v15_sha512"] = t.verify_signed_data(
        "rsa", hash_input=data, signature=sig, hash_algorithm="sha2-512", signature_algorithm="pkcs1v15", mount_point=MOUNT
    )["data"]["valid"]
    # prehashed: the application hashes, transit signs the digest (ECDSA, RSA-PSS and RSA PKCS#1 v1.5)
    digest = hashlib.sha256(b"sign me").digest()
    tampered = bytes([digest[0] ^ 1]) + digest[1:]
    r["prehashed"] = {}
    for name, alg in (("ec", None), ("rsa", None), ("rsa", "pkcs1v15")):
        kw = {"hash_algorithm": "sha2-256", "signature_algorithm": alg, "mount_point": MOUNT}
        d64 = base64.b64encode(digest).decode()
        sig = t.sign_data(name, hash_input=d64, prehashed=True, **kw)["data"]["signature"]
        r["prehashed"][f"{name}-{alg or 'default'}"] = [
            t.verify_signed_data(name, hash_input=d64, signature=sig, prehashed=True, **kw)["data"]["valid"],
            t.verify_signed_data(name, hash_input=data, signature=sig, **kw)["data"]["valid"],
            t.verify_signed_data(name, hash_input=base64.b64encode(tampered).decode(), signature=sig, prehashed=True, **kw)["data"]["valid"],
        ]
    jws = t.sign_data("ec", hash_input=data, marshaling_algorithm="jws", mount_point=MOUNT)["data"]["signature"]
    r["verify_ec_jws"] = t.verify_signed_data("ec", hash_input=data, signature=jws, marshaling_algorithm="jws", mount_point=MOUNT)["data"]["valid"]

    # hmac
    mac = t.generate_hmac("aes", hash_input=data, mount_point=MOUNT)["data"]["hmac"]
    r["hmac_prefix"] = mac[:9]
    r["hmac_valid"] = t.verify_signed_data("aes", hash_input=data, hmac=mac, mount_point=MOUNT)["data"]["valid"]
    mac512 = t.generate_hmac("aes", hash_input=data, algorithm="sha2-512", mount_point=MOUNT)["data"]["hmac"]
    r["hmac512_len"] = len(base64.b64decode(mac512.split(":", 2)[2]))
    r["hmac512_valid"] = t.verify_signed_data("aes", hash_input=data, hmac=mac512, hash_algorithm="sha2-512", mount_point=MOUNT)["data"]["valid"]

    # random / hash
    r["random_len"] = len(base64.b64decode(t.generate_random_bytes(n_bytes=24, mount_point=MOUNT)["data"]["random_bytes"]))
    r["random_hex_len"] = len(t.generate_random_bytes(n_bytes=8, output_format="hex", mount_point=MOUNT)["data"]["random_bytes"])
    r["hash_sha256"] = t.hash_data(b64("abc"), mount_point=MOUNT)["data"]["sum"]
    r["hash_sha512_b64"] = t.hash_data(b64("abc"), algorithm="sha2-512", output_format="base64", mount_point=MOUNT)["data"]["sum"]

    # backup / restore
    r["backup_refused"] = expect_raises(hvac.exceptions.InvalidRequest, t.backup_key, "aes", mount_point=MOUNT)
    portable_ct = t.encrypt_data("portable", plaintext=b64("kept"), mount_point=MOUNT)["data"]["ciphertext"]
    backup = t.backup_key("portable", mount_point=MOUNT)["data"]["backup"]
    r["restore"] = status(t.restore_key(backup, name="restored", mount_point=MOUNT))
    r["restored_decrypts"] = unb64(t.decrypt_data("restored", ciphertext=portable_ct, mount_point=MOUNT)["data"]["plaintext"])
    r["restore_existing"] = expect_raises(hvac.exceptions.InvalidRequest, t.restore_key, backup, name="restored", mount_point=MOUNT)
    r["restore_force"] = status(t.restore_key(backup, name="restored", force=True, mount_point=MOUNT))

    # trim
    t.rotate_key("aes", mount_point=MOUNT)
    t.update_key_configuration("aes", min_decryption_version=3, mount_point=MOUNT)
    trimmed = t.trim_key("aes", min_version=2, mount_point=MOUNT)
    r["trim"] = status(trimmed)
    r["after_trim_versions"] = sorted(t.read_key("aes", mount_point=MOUNT)["data"]["keys"].keys())

    # delete
    r["delete_refused"] = expect_raises(hvac.exceptions.InvalidRequest, t.delete_key, "restored", mount_point=MOUNT)
    t.update_key_configuration("restored", deletion_allowed=True, mount_point=MOUNT)
    r["delete"] = status(t.delete_key("restored", mount_point=MOUNT))
    r["read_deleted"] = expect_raises(hvac.exceptions.InvalidPath, t.read_key, "restored", mount_point=MOUNT)

    c.sys.disable_secrets_engine(MOUNT)
    if r["decrypted"] != "hello":
        fail("decrypt did not return the plaintext: %r" % r["decrypted"])


run(scenario)
