"""Fresh server: is_initialized, read_health_status, initialize, submit_unseal_keys, is_sealed, seal."""
from hvac_common import client, run


def scenario(r):
    c = client()
    r["initialized_before"] = c.sys.is_initialized()
    # HEAD is hvac's default for health: a requests.Response with just the status code.
    r["health_head_uninit"] = c.sys.read_health_status().status_code
    uninit = c.sys.read_health_status(method="GET")
    r["health_get_uninit_status"] = uninit.status_code
    r["health_get_uninit_body"] = uninit.json()

    init = c.sys.initialize(secret_shares=3, secret_threshold=2)
    r["init_keys"] = len(init["keys"])
    r["init_keys_base64"] = len(init["keys_base64"])
    r["root_token_prefix"] = init["root_token"][:4]
    r["initialized_after"] = c.sys.is_initialized()
    r["sealed_after_init"] = c.sys.is_sealed()
    r["health_sealed"] = c.sys.read_health_status(method="GET").status_code

    first = c.sys.submit_unseal_key(init["keys"][0])
    r["progress_after_one"] = first["progress"]
    r["sealed_after_one"] = first["sealed"]
    final = c.sys.submit_unseal_keys(init["keys"][1:])
    r["sealed_after_unseal"] = final["sealed"]
    r["is_sealed"] = c.sys.is_sealed()
    # An unsealed, active node: a 200 with the JSON body parsed into a dict.
    health = c.sys.read_health_status(method="GET")
    r["health_active"] = {k: health[k] for k in ("initialized", "sealed", "standby")}
    r["seal_status_type"] = c.sys.read_seal_status()["type"]
    r["leader_ha"] = c.sys.read_leader_status()["ha_enabled"]

    c.token = init["root_token"]
    r["authenticated"] = c.is_authenticated()
    c.sys.seal()
    r["sealed_after_seal"] = c.sys.is_sealed()
    c.sys.submit_unseal_keys(init["keys"][:2])
    r["sealed_after_reunseal"] = c.sys.is_sealed()


run(scenario)
