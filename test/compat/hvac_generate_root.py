"""Initialised, unsealed Shamir server (ARCA_KEYS: comma-separated hex unseal keys, threshold 2):
generate a root token with hvac's sys.start_root_token_generation / generate_root /
read_root_generation_progress / cancel_root_generation, decode it here (the OTP XORed with the token,
unpadded base64, as `vault operator generate-root -decode` does) and use it."""
import base64

from hvac_common import client, env, expect_raises, fail, hvac, run


def decode(encoded, otp):
    # The server sends Go's RawStdEncoding (no "=" padding); Python's decoder wants the padding back.
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    if len(raw) != len(otp):
        fail("encoded token is %d bytes, otp %d" % (len(raw), len(otp)))
    return bytes(a ^ b for a, b in zip(raw, otp.encode("ascii"))).decode("ascii")


def scenario(r):
    keys = env("ARCA_KEYS").split(",")
    c = client()

    idle = c.sys.read_root_generation_progress()
    r["idle"] = {k: idle[k] for k in ("started", "progress", "required", "otp_length", "complete")}

    # hvac cancels with DELETE and gets the bare 204 response back.
    c.sys.start_root_token_generation()
    r["cancel_status"] = c.sys.cancel_root_generation().status_code
    r["started_after_cancel"] = c.sys.read_root_generation_progress()["started"]

    # Neither otp nor pgp_key: the server generates the OTP (Vault >= 1.10 behaviour).
    start = c.sys.start_root_token_generation()
    otp, nonce = start["otp"], start["nonce"]
    r["otp_length"] = len(otp)
    r["start_otp_length_field"] = start["otp_length"]
    r["second_start"] = expect_raises(hvac.exceptions.InvalidRequest, c.sys.start_root_token_generation)
    r["wrong_nonce"] = expect_raises(hvac.exceptions.InvalidRequest, c.sys.generate_root, key=keys[0], nonce="not-the-nonce")

    first = c.sys.generate_root(key=keys[0], nonce=nonce)
    r["after_one"] = {k: first[k] for k in ("progress", "required", "complete")}
    r["progress_read"] = c.sys.read_root_generation_progress()["progress"]
    last = c.sys.generate_root(key=keys[1], nonce=nonce)
    r["complete"] = last["complete"]
    r["encoded_same"] = last["encoded_token"] == last["encoded_root_token"]

    token = decode(last["encoded_token"], otp)
    r["token_prefix"] = token[:4]
    r["token_length"] = len(token)
    c.token = token
    r["authenticated"] = c.is_authenticated()
    r["policies"] = c.lookup_token()["data"]["policies"]
    r["started_after_complete"] = c.sys.read_root_generation_progress()["started"]


run(scenario)
