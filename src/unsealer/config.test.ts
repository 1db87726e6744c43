import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF_MAX_MS, DEFAULT_INTERVAL_MS, parseUnsealerConfig, UnsealerConfigError } from "./config.js";
import { hsmBlockConformance } from "../hsm/hsm-config.case.js";

const HSM = `hsm "soft" {
  lib         = "/usr/lib/softhsm/libsofthsm2.so"
  token_label = "unsealer"
  pin_file    = "/etc/arca-unsealer/pin"
}`;
const SHARE = `share {
  key  = "pkcs11:token=unsealer;object=unsealer-share"
  file = "/var/lib/arca-unsealer/share.sealed"
}`;

function hcl(unsealer: string, extra = `${HSM}\n${SHARE}`): string {
  return `unsealer {\n${unsealer}\n}\n${extra}\n`;
}

hsmBlockConformance("unsealer config", async (hsmBlocks) => (await parseUnsealerConfig(hcl(`servers = ["https://a"]`, `${hsmBlocks}\n${SHARE}`))).hsms);

async function configError(text: string): Promise<UnsealerConfigError> {
  try {
    await parseUnsealerConfig(text);
  } catch (err) {
    expect(err).toBeInstanceOf(UnsealerConfigError);
    return err as UnsealerConfigError;
  }
  throw new Error("expected a config error");
}

describe("unsealer config", () => {
  it("parses the documented HCL form", async () => {
    const c = await parseUnsealerConfig(
      hcl(`servers = ["https://a:8200", "https://b:8200/"]
ca_cert = "/etc/arca-unsealer/ca.pem"
tls_skip_verify = false
interval = "5s"
backoff_max = "1m"`),
    );
    expect(c).toEqual({
      servers: ["https://a:8200", "https://b:8200"],
      caCert: "/etc/arca-unsealer/ca.pem",
      tlsSkipVerify: false,
      intervalMs: 5000,
      backoffMaxMs: 60000,
      hsms: [{ name: "soft", lib: "/usr/lib/softhsm/libsofthsm2.so", tokenLabel: "unsealer", pinFile: "/etc/arca-unsealer/pin" }],
      shares: [{ key: "pkcs11:token=unsealer;object=unsealer-share", file: "/var/lib/arca-unsealer/share.sealed", algorithm: "aes-256-gcm" }],
    });
  });

  it("applies defaults and accepts sub-second intervals", async () => {
    const c = await parseUnsealerConfig(hcl(`servers = ["http://127.0.0.1:8200"]`));
    expect(c.intervalMs).toBe(DEFAULT_INTERVAL_MS);
    expect(c.backoffMaxMs).toBe(DEFAULT_BACKOFF_MAX_MS);
    expect(c.tlsSkipVerify).toBe(false);
    expect(c.caCert).toBeUndefined();
    const fast = await parseUnsealerConfig(hcl(`servers = ["http://127.0.0.1:8200"]\ninterval = "150ms"\nbackoff_max = "2s"`));
    expect(fast.intervalMs).toBe(150);
    expect(fast.backoffMaxMs).toBe(2000);
  });

  it("keeps several share blocks in order", async () => {
    const c = await parseUnsealerConfig(
      hcl(
        `servers = ["https://a:8200"]`,
        `${HSM}
share {
  key  = "pkcs11:token=unsealer;object=s1"
  file = "/s/1"
}
share {
  key  = "pkcs11:token=unsealer;object=s2"
  file = "/s/2"
}`,
      ),
    );
    expect(c.shares.map((s) => s.file)).toEqual(["/s/1", "/s/2"]);
  });

  it("reads the JSON form", async () => {
    const c = await parseUnsealerConfig(
      JSON.stringify({
        unsealer: { servers: ["https://a:8200"], interval: "1s", tls_skip_verify: true },
        hsm: { soft: { lib: "/x.so", serial: "abc", pin_env: "UNSEALER_PIN" } },
        share: [{ key: "pkcs11:serial=abc;object=k", file: "/f" }],
      }),
    );
    expect(c.tlsSkipVerify).toBe(true);
    expect(c.hsms).toEqual([{ name: "soft", lib: "/x.so", serial: "abc", pinEnv: "UNSEALER_PIN" }]);
    expect(c.shares).toEqual([{ key: "pkcs11:serial=abc;object=k", file: "/f", algorithm: "aes-256-gcm" }]);
  });

  it("takes the sealing scheme from the share block (AES-GCM unless it says RSA-OAEP, for a TPM)", async () => {
    const c = await parseUnsealerConfig(
      hcl(
        `servers = ["https://a:8200"]`,
        `${HSM}
share {
  key       = "pkcs11:token=tpm;object=s1"
  file      = "/s/1"
  algorithm = "rsa-oaep-sha256"
}
share {
  key       = "pkcs11:token=tpm;object=s2;type=private"
  file      = "/s/2"
  algorithm = "rsa-oaep-sha256"
}
share {
  key       = "pkcs11:token=hsm;object=s3"
  file      = "/s/3"
  algorithm = "aes-256-gcm"
}`,
      ),
    );
    expect(c.shares.map((s) => s.algorithm)).toEqual(["rsa-oaep-sha256", "rsa-oaep-sha256", "aes-256-gcm"]);
  });

  it.each([
    ["no unsealer block", `${HSM}\n${SHARE}`, "unsealer"],
    ["no servers", hcl(`interval = "5s"`), "unsealer.servers"],
    ["a server that is not a URL", hcl(`servers = ["a:8200"]`), "unsealer.servers[0]"],
    ["a server with a path-less scheme", hcl(`servers = ["ftp://a"]`), "unsealer.servers[0]"],
    ["credentials in a URL", hcl(`servers = ["https://u:p@a:8200"]`), "unsealer.servers[0]"],
    ["a server listed twice", hcl(`servers = ["https://a:8200", "https://a:8200/"]`), "unsealer.servers"],
    ["a bad interval", hcl(`servers = ["https://a"]\ninterval = "soon"`), "unsealer.interval"],
    ["a zero interval", hcl(`servers = ["https://a"]\ninterval = "0s"`), "unsealer.interval"],
    ["backoff_max below interval", hcl(`servers = ["https://a"]\ninterval = "10s"\nbackoff_max = "1s"`), "unsealer.backoff_max"],
    ["an unknown unsealer key", hcl(`servers = ["https://a"]\nintervall = "1s"`), "unsealer.intervall"],
    ["an unknown top-level block", hcl(`servers = ["https://a"]`, `${HSM}\n${SHARE}\nlistener "tcp" {}`), "listener"],
    ["no hsm block", hcl(`servers = ["https://a"]`, SHARE), "hsm"],
    ["no share block", hcl(`servers = ["https://a"]`, HSM), "share"],
    [
      "two PIN sources",
      hcl(`servers = ["https://a"]`, `hsm "x" {\nlib = "/x.so"\ntoken_label = "t"\npin = "1"\npin_env = "P"\n}\n${SHARE}`),
      "hsm.x",
    ],
    ["no PIN source", hcl(`servers = ["https://a"]`, `hsm "x" {\nlib = "/x.so"\ntoken_label = "t"\n}\n${SHARE}`), "hsm.x"],
    ["an hsm without token", hcl(`servers = ["https://a"]`, `hsm "x" {\nlib = "/x.so"\npin = "1"\n}\n${SHARE}`), "hsm.x"],
    ["a share without file", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=o"\n}`), "share[0].file"],
    ["a share key that is not a URI", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "unsealer-key"\nfile = "/f"\n}`), "share[0].key"],
    ["a share key without object", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t"\nfile = "/f"\n}`), "share[0].key"],
    ["a share key with a PIN", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=o?pin-value=1234"\nfile = "/f"\n}`), "share[0].key"],
    ["a share key naming a module", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=o?module-path=/evil.so"\nfile = "/f"\n}`), "share[0].key"],
    ["a share key of the wrong type", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=o;type=private"\nfile = "/f"\n}`), "share[0].key"],
    ["an unknown sealing scheme", hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=o"\nfile = "/f"\nalgorithm = "aes-256-cbc"\n}`), "share[0].algorithm"],
    [
      "an RSA share key naming a secret key",
      hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=o;type=secret-key"\nfile = "/f"\nalgorithm = "rsa-oaep-sha256"\n}`),
      "share[0].key",
    ],
    [
      "two shares in one file",
      hcl(`servers = ["https://a"]`, `${HSM}\nshare {\nkey = "pkcs11:token=t;object=a"\nfile = "/f"\n}\nshare {\nkey = "pkcs11:token=t;object=b"\nfile = "/f"\n}`),
      "share",
    ],
  ])("rejects %s", async (_name, text, field) => {
    const err = await configError(text);
    expect(err.field).toBe(field);
  });

  it("never quotes a PIN in its errors", async () => {
    const err = await configError(hcl(`servers = ["https://a"]`, `hsm "x" {\nlib = "/x.so"\ntoken_label = "t"\npin = "s3cr3t-pin"\npin_file = "/p"\n}\n${SHARE}`));
    expect(err.message).not.toContain("s3cr3t-pin");
    const syntax = await configError(`unsealer { servers = ["https://a"] }\nhsm "x" { pin = "s3cr3t-pin" `);
    expect(syntax.message).not.toContain("s3cr3t-pin");
  });
});
