// The unauthenticated OCSP responder signs back only nonces RFC 8954 allows (1 to 32 octets); any other
// length is a malformedRequest, not a signature over caller-chosen bytes.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as der from "./der.js";
import { pkiSuite } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();
const MALFORMED = "30030a0101";

/** openssl's request for `leafPem` without a nonce, rebuilt with a nonce extension holding `nonce`. */
function requestWithNonce(caPem: string, leafPem: string, nonce: Buffer): Buffer {
  const reqF = tmp.path(`${uniq("req")}.der`);
  const made = tmp.openssl(["ocsp", "-issuer", tmp.file(`${uniq("ca")}.pem`, caPem), "-cert", tmp.file(`${uniq("leaf")}.pem`, leafPem), "-no_nonce", "-reqout", reqF]);
  expect(made.status, made.out).toBe(0);
  const [tbs] = der.children(der.readAll(readFileSync(reqF)));
  const requestList = der.children(tbs).find((n) => n.tag === der.TAG.SEQUENCE)!;
  const nonceExt = der.seq(der.oid("1.3.6.1.5.5.7.48.1.2"), der.octets(der.octets(nonce)));
  return der.seq(der.seq(der.raw(requestList), der.explicit(2, der.seq(nonceExt))));
}

describe("pki: OCSP nonce size (RFC 8954)", () => {
  it("echoes a nonce of up to 32 octets and answers malformedRequest to an empty or longer one", async () => {
    const h = pki();
    const ca = (await h.data("write", "root/generate/internal", { common_name: "Nonce Root", key_type: "ec", key_bits: 256, ttl: "100h" })).certificate as string;
    await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, max_ttl: "1h", key_type: "ec" });
    const leaf = (await h.data("write", "issue/web", { common_name: "n.example.com", ttl: "1h" })).certificate as string;
    const ask = async (nonce: Buffer): Promise<string> => {
      const r = (await h.call("write", "ocsp", {}, { mediaType: "application/ocsp-request", bytes: requestWithNonce(ca, leaf, nonce) }))!.raw!;
      return Buffer.from(r.body as Buffer).toString("hex");
    };
    for (const size of [1, 16, 32]) {
      const nonce = Buffer.alloc(size, 0xab);
      const resp = await ask(nonce);
      expect(resp).not.toBe(MALFORMED);
      expect(resp).toContain(der.octets(nonce).toString("hex"));
    }
    for (const size of [0, 33, 4096]) expect(await ask(Buffer.alloc(size, 0xcd))).toBe(MALFORMED);
  });
});
