import { describe, expect, it } from "vitest";
import { parseAgentConfig } from "./config.js";

const base = (cert: string, extra = "") => `
vault { address = "https://arca.test:8200/" }
auto_auth {
  method "approle" { config = { role_id_file_path = "/r", secret_id_file_path = "/s" } }
  sink "file" { config = { path = "/run/token" } }
}
hsm "svc" {
  lib = "/usr/lib/softhsm/libsofthsm2.so"
  token_label = "svc"
  pin_file = "/etc/pin"
}
${extra}
certificate "web" {
  mount = "pki"
  role = "web"
  common_name = "web.svc.test"
  key = "pkcs11:token=svc;object=web"
  cert_file = "/etc/web/cert.pem"
  ${cert}
}`;

describe("agent config", () => {
  it("reads Vault Agent's shape with the agent's certificate blocks", async () => {
    const c = await parseAgentConfig(base(`alt_names = ["a.svc.test"]\n  ip_sans = "10.0.0.1"\n  renew_before = "8h"\n  exec = ["nginx", "-s", "reload"]`));
    expect(c.vault.address).toBe("https://arca.test:8200");
    expect(c.autoAuth.method).toEqual({ type: "approle", mountPath: "auth/approle", roleIdFile: "/r", secretIdFile: "/s", removeSecretIdFile: true });
    expect(c.autoAuth.sinks).toEqual([{ path: "/run/token", mode: 0o640 }]);
    expect(c.certificates[0]).toMatchObject({ name: "web", hsm: "svc", keyType: "ec", keyBits: 0, altNames: ["a.svc.test"], ipSans: ["10.0.0.1"], renewBeforeSeconds: 8 * 3600, exec: ["nginx", "-s", "reload"] });
  });

  it("reads a sink mode as octal however it is written", async () => {
    for (const written of ["0600", `"0600"`, "600"]) {
      const c = await parseAgentConfig(base("").replace(`config = { path = "/run/token" }`, `config = {
 path = "/run/token"
 mode = ${written}
 }`));
      expect(c.autoAuth.sinks[0].mode).toBe(0o600);
    }
    await expect(parseAgentConfig(base("").replace(`config = { path = "/run/token" }`, `config = {
 path = "/run/token"
 mode = 999
 }`))).rejects.toThrow(/mode: must be a file mode/);
  });

  it("runs a string exec through the shell", async () => {
    expect((await parseAgentConfig(base(`exec = "nginx -s reload"`))).certificates[0].exec).toEqual(["/bin/sh", "-c", "nginx -s reload"]);
  });

  it.each([
    ["a key in a token no hsm block declares", `key_type = "ec"`, "pkcs11:token=other;object=web", /certificate\.web\.key: names a token no hsm block declares/],
    ["a PIN inside the key URI", "", "pkcs11:token=svc;object=web?pin-value=1234", /must not carry pin-value/],
    ["a key named by id only", "", "pkcs11:token=svc;id=%01", /must name the key with object=/],
    ["a key size the type does not have", `key_bits = 1024\n  key_type = "rsa"`, undefined, /key_bits: is not a size for key_type rsa/],
    ["an unknown setting", `colour = "blue"`, undefined, /certificate\.web: invalid key "colour"/],
  ])("refuses %s", async (_what, extra, key, message) => {
    let text = base(extra);
    if (key) text = text.replace("pkcs11:token=svc;object=web", key);
    await expect(parseAgentConfig(text)).rejects.toThrow(message);
  });

  it("never quotes a PIN from a bad URI", async () => {
    const err = await parseAgentConfig(base("").replace("pkcs11:token=svc;object=web", "pkcs11:token=svc;object=web?pin-value=s3cr3t")).catch((e: Error) => e);
    expect((err as Error).message).not.toContain("s3cr3t");
  });

  it("refuses an unknown auth method and a second method", async () => {
    await expect(parseAgentConfig(base("").replace(`method "approle"`, `method "kubernetes"`))).rejects.toThrow(/unknown auth method/);
  });

  it("reads the userpass and cert methods", async () => {
    const up = await parseAgentConfig(base("").replace(/method "approle" \{[^\n]*\n/, `method "userpass" { config = { username = "svc", password_file_path = "/p" } }\n`));
    expect(up.autoAuth.method).toEqual({ type: "userpass", mountPath: "auth/userpass", username: "svc", passwordFile: "/p" });
    const cert = await parseAgentConfig(base("").replace(/method "approle" \{[^\n]*\n/, `method "cert" {\n mount_path = "auth/tls"\n config = { name = "web", client_cert = "/c", client_key = "/k" }\n }\n`));
    expect(cert.autoAuth.method).toEqual({ type: "cert", mountPath: "auth/tls", name: "web", clientCert: "/c", clientKey: "/k" });
  });
});
