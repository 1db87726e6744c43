"""cert auth driven by hvac against a TLS listener: see src/auth/cert/cert-tls.test.ts. Prints one JSON object."""
import json
import os

import hvac

url, ca = os.environ["ARCA_URL"], os.environ["ARCA_CA"]
admin = hvac.Client(url=url, token=os.environ["ARCA_TOKEN"], verify=ca)
out = {}


def refused(fn):
    try:
        fn()
        return "accepted"
    except hvac.exceptions.VaultError as e:
        return {"exception": type(e).__name__, "errors": e.errors}


# hvac 0.11 reads `certificate` from a file path.
admin.auth.cert.create_ca_certificate_role(
    name="hvac", certificate=ca, allowed_common_names=["svc-client"], token_policies=["svc"], token_ttl=1200, display_name="hvac-role"
)
role = admin.auth.cert.read_ca_certificate_role(name="hvac")["data"]
out["role"] = {k: role[k] for k in ("allowed_common_names", "token_policies", "token_ttl", "display_name")}
out["roles_include_hvac"] = "hvac" in admin.auth.cert.list_certificate_roles()["data"]["keys"]

client = hvac.Client(url=url, verify=ca)
auth = client.auth.cert.login(name="hvac", cert_pem=os.environ["CLIENT_CERT"], key_pem=os.environ["CLIENT_KEY"])["auth"]
out["login"] = {
    "policies": sorted(auth["policies"]),
    "metadata": {k: auth["metadata"][k] for k in ("cert_name", "common_name")},
    "lease_duration": auth["lease_duration"],
    "renewable": auth["renewable"],
}
out["is_authenticated"] = client.is_authenticated()

other = hvac.Client(url=url, verify=ca)
out["stranger"] = refused(lambda: other.auth.cert.login(name="hvac", cert_pem=os.environ["STRANGER_CERT"], key_pem=os.environ["STRANGER_KEY"]))
admin.auth.cert.delete_certificate_role(name="hvac")
again = hvac.Client(url=url, verify=ca)
out["after_delete"] = refused(lambda: again.auth.cert.login(name="hvac", cert_pem=os.environ["CLIENT_CERT"], key_pem=os.environ["CLIENT_KEY"]))
print(json.dumps(out))
