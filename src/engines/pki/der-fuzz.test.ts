// Malformed DER never answers 500 (issue 12 §3): CSRs mutated byte by byte (flips, cuts, insertions, length
// bytes) on the three sign endpoints, and certificate bundles on issuers/import/bundle and config/ca, each get
// a 4xx ArcaError or succeed — never another exception (which the core would answer as an internal error).
import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArcaError } from "../../common/errors.js";
import { pkiSuite } from "./pki-harness.test-util.js";
import { pem, pemBlocks } from "./x509.js";
import * as der from "./der.js";

const { pki, tmp, uniq } = pkiSuite();

/**
 * A CSR whose request info is `info`, properly signed by `key`: what an attacker with any role sends (a
 * mutated CSR with a broken signature is refused before the interesting code runs).
 */
function signedCsr(info: Buffer, key: KeyObject): Buffer {
  const ecdsaWithSha256 = der.seq(der.oid("1.2.840.10045.4.3.2"));
  return der.seq(info, ecdsaWithSha256, der.bitString(sign("sha256", info, key)));
}

function opensslCsrDer(): { der: Buffer; key: KeyObject } {
  const name = uniq("csr");
  const r = tmp.openssl([
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.der`, "-outform", "DER",
    "-subj", "/CN=fuzz.example.com/O=Fuzz", "-addext", "subjectAltName=DNS:fuzz.example.com,IP:10.0.0.1,email:a@example.com,URI:spiffe://x/y",
    "-addext", "keyUsage=digitalSignature", "-addext", "extendedKeyUsage=serverAuth",
  ]);
  expect(r.status, r.out).toBe(0);
  return { der: readFileSync(tmp.path(`${name}.der`)), key: createPrivateKey(readFileSync(tmp.path(`${name}.key`))) };
}

/** A mutation of `bytes`: a flipped byte, a cut, an inserted byte or a rewritten length byte. */
const mutation = (len: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(len - 1), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(len - 1), value: fc.constant(0) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(len - 1), value: fc.integer({ min: 0, max: 255 }) }),
  );

function mutate(bytes: Buffer, ms: Array<{ kind: "flip" | "cut" | "insert"; at: number; value: number }>): Buffer {
  let out = Buffer.from(bytes);
  for (const m of ms) {
    const at = Math.min(m.at, out.length - 1);
    if (m.kind === "flip") out[at] = m.value;
    else if (m.kind === "cut") out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), Buffer.from([m.value]), out.subarray(at)]);
    if (out.length === 0) break;
  }
  return out;
}

/** Runs `call` and fails the property on anything but success or an ArcaError with a 4xx status. */
async function only4xx(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (err instanceof ArcaError && err.status >= 400 && err.status < 500) return;
    throw new Error(`not a 4xx: ${err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack ?? ""}` : String(err)}`, { cause: err });
  }
}

describe("malformed DER never gets a 500", () => {
  it("CSRs on sign/:role, sign-verbatim and root/sign-intermediate", async () => {
    const h = pki();
    await h.data("write", "root/generate/internal", { common_name: "Fuzz Root", ttl: "87600h", key_type: "ec", key_bits: 256 });
    await h.call("write", "roles/any", { allow_any_name: true, enforce_hostnames: false, allow_ip_sans: true, allowed_uri_sans: ["*"], ttl: "1h" });
    const { der: csr, key } = opensslCsrDer();
    const info = der.raw(der.children(der.readAll(csr))[0]);
    expect(info.length).toBeGreaterThan(100);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(info.length), { minLength: 1, maxLength: 3 }), fc.boolean(), async (ms, resign) => {
        const bytes = resign ? signedCsr(mutate(info, ms), key) : mutate(csr, ms);
        const bad = pem(bytes, "CERTIFICATE REQUEST");
        await only4xx(() => h.call("write", "sign/any", { csr: bad, common_name: "fuzz.example.com" }));
        await only4xx(() => h.call("write", "sign-verbatim", { csr: bad }));
        await only4xx(() => h.call("write", "root/sign-intermediate", { csr: bad, common_name: "Fuzz Int" }));
      }),
      { numRuns: 1500 },
    );
  });

  it("certificate bundles on issuers/import/bundle and config/ca", async () => {
    const src = pki();
    const made = await src.data("write", "root/generate/exported", { common_name: "Bundle Root", ttl: "87600h", key_type: "ec", key_bits: 256 });
    const certDer = pemBlocks(String(made.certificate))[0].der;
    const keyPem = String(made.private_key);
    const h = pki();
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(certDer.length), { minLength: 1, maxLength: 3 }), async (ms) => {
        const bundle = `${pem(mutate(certDer, ms), "CERTIFICATE")}\n${keyPem}\n`;
        await only4xx(() => h.call("write", "issuers/import/bundle", { pem_bundle: bundle }));
        await only4xx(() => h.call("write", "config/ca", { pem_bundle: bundle }));
      }),
      { numRuns: 300 },
    );
  });
});
