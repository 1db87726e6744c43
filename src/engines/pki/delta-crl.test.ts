// Delta CRLs: config/crl enable_delta / delta_rebuild_interval, crl/delta[/pem] and
// issuer/:ref/crl/delta[/der|/pem]; the delta carries a critical Delta CRL Indicator naming its base, the
// base carries Freshest CRL, and openssl -use_deltas sees a revocation only the delta lists.
import { describe, expect, it } from "vitest";
import { pkiSuite, type PkiHarness } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();
const f = (name: string, content: string | Buffer): string => tmp.file(uniq(name), content);

const crlText = (pemOrDer: string | Buffer): string => {
  const der = Buffer.isBuffer(pemOrDer);
  const r = tmp.openssl(["crl", "-noout", "-text", ...(der ? ["-inform", "DER"] : []), "-in", f("crl", pemOrDer)]);
  expect(r.status, r.out).toBe(0);
  return r.out;
};
const crlNumber = (t: string): number => Number(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(t)![1]);
const hexSerial = (s: unknown): string => (s as string).replace(/:/g, "").toUpperCase();

async function setup(h: PkiHarness, crl: Record<string, unknown>) {
  const root = await h.data("write", "root/generate/internal", { common_name: "Delta Root", key_type: "ec", ttl: "1000h" });
  await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
  const a = await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
  const b = await h.data("write", "issue/web", { common_name: "b.example.com", ttl: "1h" });
  await h.call("write", "config/urls", { delta_crl_distribution_points: "http://pki.example/v1/pki/crl/delta" });
  await h.call("write", "config/crl", crl);
  return { root, a, b };
}

const body = async (h: PkiHarness, path: string): Promise<string | Buffer> => (await h.call("read", path))!.raw!.body;

describe("pki delta CRLs", () => {
  it("auto_rebuild: a revocation goes to the delta; openssl -use_deltas sees it, the base alone does not", async () => {
    const h = pki();
    const { root, a, b } = await setup(h, { enable_delta: true, auto_rebuild: true, delta_rebuild_interval: "10m" });
    const cfg = await h.data("read", "config/crl");
    expect(cfg.enable_delta).toBe(true);
    expect(cfg.delta_rebuild_interval).toMatch(/^10m/);

    const base0 = crlText((await body(h, "crl/pem")));
    expect(base0).toMatch(/X509v3 Freshest CRL:\s*\n\s*Full Name:\s*\n\s*URI:http:\/\/pki\.example\/v1\/pki\/crl\/delta/);
    const n0 = crlNumber(base0);

    await h.data("write", "revoke", { serial_number: a.serial_number });
    const basePem = (await body(h, "crl/pem")) as string;
    const base1 = crlText(basePem);
    expect(crlNumber(base1)).toBe(n0);
    expect(base1).not.toContain(hexSerial(a.serial_number));
    const deltaPem = (await body(h, "crl/delta/pem")) as string;
    expect(deltaPem).toMatch(/^-----BEGIN X509 CRL-----/);
    const delta = crlText(deltaPem);
    expect(delta).toMatch(new RegExp(`X509v3 Delta CRL Indicator: critical\\s*\\n\\s*${n0}\\b`));
    expect(crlNumber(delta)).toBeGreaterThan(n0);
    expect(delta).toContain(hexSerial(a.serial_number));
    expect(delta).not.toContain(hexSerial(b.serial_number));
    expect(delta).not.toMatch(/Freshest CRL/);

    const caF = f("ca.pem", root.certificate as string);
    const baseF = f("base.pem", basePem);
    const deltaF = f("delta.pem", deltaPem);
    const aF = f("a.pem", a.certificate as string);
    const withDeltas = tmp.openssl(["verify", "-crl_check", "-use_deltas", "-CAfile", caF, "-CRLfile", baseF, "-CRLfile", deltaF, aF]);
    expect(withDeltas.status).not.toBe(0);
    expect(withDeltas.out).toMatch(/certificate revoked/);
    expect(tmp.openssl(["verify", "-crl_check", "-use_deltas", "-CAfile", caF, "-CRLfile", baseF, "-CRLfile", deltaF, f("b.pem", b.certificate as string)]).out).toMatch(/: OK/);
    expect(tmp.openssl(["verify", "-crl_check", "-CAfile", caF, "-CRLfile", baseF, aF]).out).toMatch(/: OK/);

    // The issuer-scoped forms serve the same delta.
    const id = root.issuer_id as string;
    const der = (await body(h, `issuer/${id}/crl/delta/der`)) as Buffer;
    expect(crlText(der)).toContain(hexSerial(a.serial_number));
    expect((await h.data("read", `issuer/${id}/crl/delta`)).crl).toBe(deltaPem.trim());
    expect((await h.call("read", "crl/delta"))!.raw!.contentType).toBe("application/pkix-crl");
    expect(((await body(h, `issuer/${id}/crl/delta/pem`)) as string).trim()).toBe(deltaPem.trim());
    expect((await h.data("read", "cert/delta-crl")).certificate).toBe(deltaPem.trim());

    // crl/rotate folds the revocation into the base; the new delta is empty and names the new base.
    await h.call("read", "crl/rotate");
    const base2 = crlText((await body(h, "crl/pem")));
    expect(base2).toContain(hexSerial(a.serial_number));
    const delta2 = crlText((await body(h, "crl/delta/pem")));
    expect(delta2).toMatch(/No Revoked Certificates/);
    expect(delta2).toMatch(new RegExp(`Delta CRL Indicator: critical\\s*\\n\\s*${crlNumber(base2)}\\b`));
    expect(crlNumber(delta2)).toBeGreaterThan(crlNumber(base2));
    // crl/rotate-delta makes a newer delta over the same base.
    await h.call("read", "crl/rotate-delta");
    expect(crlNumber(crlText((await body(h, "crl/delta/pem")) as string))).toBeGreaterThan(crlNumber(delta2));
  });

  it("without auto_rebuild a revocation rebuilds the base, and the delta stays empty", async () => {
    const h = pki();
    const { a } = await setup(h, { enable_delta: true });
    await h.data("write", "revoke", { serial_number: a.serial_number });
    const base = crlText((await body(h, "crl/pem")));
    expect(base).toContain(hexSerial(a.serial_number));
    const delta = crlText((await body(h, "crl/delta/pem")));
    expect(delta).toMatch(/No Revoked Certificates/);
    expect(delta).toMatch(new RegExp(`Delta CRL Indicator: critical\\s*\\n\\s*${crlNumber(base)}\\b`));
  });

  it("with deltas off there is no delta CRL and no Freshest CRL; turning them off again removes both", async () => {
    const h = pki();
    await setup(h, {});
    expect((await h.fails("read", "crl/delta")).status).toBe(404);
    expect((await h.fails("read", "crl/delta/pem")).message).toMatch(/enable_delta=false/);
    expect(crlText((await body(h, "crl/pem")) as string)).not.toMatch(/Freshest CRL/);
    await h.call("write", "config/crl", { enable_delta: true });
    expect(crlText((await body(h, "crl/pem")) as string)).toMatch(/Freshest CRL/);
    await h.call("write", "config/crl", { enable_delta: false });
    expect(crlText((await body(h, "crl/pem")) as string)).not.toMatch(/Freshest CRL/);
    expect((await h.fails("read", "crl/delta")).status).toBe(404);
    expect((await h.dump("delta-crls/")).size).toBe(0);
    expect((await h.fails("write", "config/crl", { delta_rebuild_interval: "0s" })).status).toBe(400);
  });

  it("config/crl reads back durations exactly as written (OpenBao's defaults when never written)", async () => {
    const h = pki();
    expect(await h.data("read", "config/crl")).toEqual({
      expiry: "72h", disable: false, ocsp_disable: false, ocsp_expiry: "12h", auto_rebuild: false,
      auto_rebuild_grace_period: "12h", enable_delta: false, delta_rebuild_interval: "15m",
    });
    await h.call("write", "config/crl", { expiry: "48h", ocsp_expiry: "90m", delta_rebuild_interval: 600, auto_rebuild: true, auto_rebuild_grace_period: "2h" });
    expect(await h.data("read", "config/crl")).toMatchObject({ expiry: "48h", ocsp_expiry: "90m", delta_rebuild_interval: "600", auto_rebuild_grace_period: "2h" });
    // A later write of other fields keeps the text of the durations it does not touch.
    await h.call("write", "config/crl", { disable: false });
    expect((await h.data("read", "config/crl")).expiry).toBe("48h");
    const e = await h.fails("write", "config/crl", { auto_rebuild_grace_period: "48h" });
    expect(e.status).toBe(400);
    expect(e.message).toBe("CRL auto-rebuilding grace period (48h) must be strictly shorter than CRL expiry (48h) value when auto-rebuilding of CRLs is enabled");
    expect((await h.data("read", "config/crl")).auto_rebuild_grace_period).toBe("2h");
  });
});
