import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArcaError } from "../../common/errors.js";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";
import { MAX_PEM_BUNDLE_BYTES, MAX_PEM_FIELD_BYTES, pem, pemBlocks } from "./pem.js";

// The regex the scanner replaced: its answers are the specification, its cost (quadratic) is the bug.
function regexPemBlocks(text: string): { label: string; der: Buffer }[] {
  const out: { label: string; der: Buffer }[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const body = m[2].replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new ArcaError("invalid_request", `malformed PEM block "${m[1]}"`);
    out.push({ label: m[1], der: Buffer.from(body, "base64") });
  }
  return out;
}

describe("pemBlocks", () => {
  it("reads blocks in order, skipping text between them and BEGINs without a matching END", () => {
    const a = pem(Buffer.from("first"), "CERTIFICATE");
    const b = pem(Buffer.from("second"), "EC PRIVATE KEY");
    const text = `junk\n-----BEGIN X-----\nAAAA\n${a}\nmore junk -----END Y-----\n${b}\n-----BEGIN CERTIFICATE-----\n`;
    expect(pemBlocks(text)).toEqual([
      { label: "CERTIFICATE", der: Buffer.from("first") },
      { label: "EC PRIVATE KEY", der: Buffer.from("second") },
    ]);
    expect(() => pemBlocks("-----BEGIN A-----\n!!!!\n-----END A-----")).toThrow(/malformed PEM block "A"/);
  });

  it("answers as the regex it replaced did", () => {
    const piece = fc.constantFrom("-----BEGIN ", "-----END ", "-----", "A", "B C", "CERTIFICATE", "QUJD", "=", "\n", " ", "-", "!", "x");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        let expected: unknown;
        try {
          expected = regexPemBlocks(text);
        } catch (err) {
          expected = (err as Error).message;
        }
        let actual: unknown;
        try {
          actual = pemBlocks(text);
        } catch (err) {
          actual = (err as Error).message;
        }
        expect(actual).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("bounds its input: a field by default, a bundle when asked", () => {
    const big = `${pem(Buffer.alloc(MAX_PEM_FIELD_BYTES), "CERTIFICATE")}`;
    expect(() => pemBlocks(big, "csr")).toThrow(/csr is \d+ bytes; the limit is 65536/);
    expect(pemBlocks(big, "pem_bundle", MAX_PEM_BUNDLE_BYTES)).toHaveLength(1);
  });
});

describe("hostile PEM over HTTP", () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await devServer();
    expect((await api(s.url, "POST", "sys/mounts/pki", { token: s.rootToken, body: { type: "pki" } })).status).toBe(204);
    const gen = await api(s.url, "POST", "pki/root/generate/internal", { token: s.rootToken, body: { common_name: "Root", key_type: "ec", key_bits: 256 } });
    expect(gen.status).toBe(200);
  });
  afterAll(() => s.stop());

  it("answers health promptly while a bundle of unmatched BEGIN markers is read", async () => {
    // Just under the bundle bound. The old regex took 6.6 s on half this and grew quadratically, with
    // every other request waiting. Liveness, not speed: the bound is generous.
    const hostile = "-----BEGIN A-----".repeat(Math.floor((MAX_PEM_BUNDLE_BYTES - 1) / 17));
    let done = false;
    const write = api(s.url, "POST", "pki/config/ca", { token: s.rootToken, body: { pem_bundle: hostile } }).finally(() => (done = true));
    let slowest = 0;
    while (!done) {
      const t0 = performance.now();
      expect((await api(s.url, "GET", "sys/health")).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    const res = await write;
    expect(res.status).toBe(400);
    expect(slowest).toBeLessThan(500);
  });

  it("refuses an oversized csr with a 400", async () => {
    const res = await api(s.url, "POST", "pki/root/sign-intermediate", { token: s.rootToken, body: { csr: "-----BEGIN A-----".repeat(30_000), common_name: "x" } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/csr is 510000 bytes; the limit is 65536/);
  });
});
