// Transit's JWS signatures checked by an independent JOSE implementation: PyJWT (Debian's python3-jwt, with
// python3-cryptography) verifies `header.payload.signature` tokens whose signature transit made.
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Operation, Request, Response } from "../../core/framework/request.js";
import { StorageView } from "../../core/view.js";
import { SqliteStorage } from "../../storage/sqlite.js";
import { createTransitBackendWith } from "./backend.js";

const PYTHON = "/usr/bin/python3";

function pyjwtAvailable(): boolean {
  try {
    execFileSync(PYTHON, ["-c", "import jwt; from jwt.algorithms import has_crypto; assert has_crypto"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const available = pyjwtAvailable();
if (!available && process.env.CI === "true") throw new Error("PyJWT with cryptography is needed for the JWS suite (CI=true)");

/** PyJWT's verdict on a compact JWS: the decoded claims as JSON, or "invalid: <reason>". */
function pyjwtVerify(token: string, pem: string, alg: string): string {
  const script = `
import json, sys, jwt
token, pem, alg = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    print(json.dumps(jwt.decode(token, pem, algorithms=[alg])))
except Exception as e:
    print("invalid: " + type(e).__name__)
`;
  return execFileSync(PYTHON, ["-c", script, token, pem, alg], { encoding: "utf8" }).trim();
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

describe.skipIf(!available)(available ? "transit JWS verified by PyJWT" : "transit JWS verified by PyJWT (skipped: no python3-jwt)", () => {
  it("ES256/384/512, RS256, PS256 and EdDSA tokens verify, prehashed ECDSA too; a changed payload does not", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const view = new StorageView(storage, "logical/jws/");
    const backend = createTransitBackendWith({});
    const call = async (operation: Operation, path: string, data: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
      const m = backend.resolve(path, operation);
      const req = { id: "r", operation, path: `transit/${path}`, data, mountPoint: "transit/", mountPath: path } as unknown as Request;
      const r: Response | undefined = await backend.handle(req, m, view);
      if (!r?.data) throw new Error("no data");
      return r.data;
    };
    try {
      const cases: Array<{ alg: string; type: string; hash: "sha256" | "sha384" | "sha512"; body: Record<string, unknown>; prehashed?: boolean }> = [
        { alg: "ES256", type: "ecdsa-p256", hash: "sha256", body: {} },
        { alg: "ES256", type: "ecdsa-p256", hash: "sha256", body: {}, prehashed: true },
        { alg: "ES384", type: "ecdsa-p384", hash: "sha384", body: { hash_algorithm: "sha2-384" }, prehashed: true },
        { alg: "ES512", type: "ecdsa-p521", hash: "sha512", body: { hash_algorithm: "sha2-512" } },
        { alg: "RS256", type: "rsa-2048", hash: "sha256", body: { signature_algorithm: "pkcs1v15" } },
        { alg: "PS256", type: "rsa-2048", hash: "sha256", body: { salt_length: "hash" }, prehashed: true },
        { alg: "EdDSA", type: "ed25519", hash: "sha256", body: {} },
      ];
      for (const [i, c] of cases.entries()) {
        const name = `jws-${i}`;
        await call("update", `keys/${name}`, { type: c.type });
        const header = Buffer.from(JSON.stringify({ alg: c.alg, typ: "JWT" })).toString("base64url");
        const payload = Buffer.from(JSON.stringify({ sub: "arca", case: i })).toString("base64url");
        const signingInput = Buffer.from(`${header}.${payload}`);
        const input = c.prehashed ? createHash(c.hash).update(signingInput).digest() : signingInput;
        const sig = (await call("update", `sign/${name}`, { input: b64(input), marshaling_algorithm: "jws", prehashed: c.prehashed ?? false, ...c.body })).signature as string;
        const exported = ((await call("read", `export/public-key/${name}/latest`)).keys as Record<string, string>)["1"];
        const pem =
          c.type === "ed25519"
            ? createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(exported, "base64").toString("base64url") }, format: "jwk" }).export({ type: "spki", format: "pem" }).toString()
            : exported;
        const token = `${header}.${payload}.${sig.split(":")[2]}`;
        expect(JSON.parse(pyjwtVerify(token, pem, c.alg)), `${c.alg} ${c.type}`).toEqual({ sub: "arca", case: i });
        const forged = Buffer.from(JSON.stringify({ sub: "someone else", case: i })).toString("base64url");
        expect(pyjwtVerify(`${header}.${forged}.${sig.split(":")[2]}`, pem, c.alg)).toMatch(/^invalid: /);
      }
    } finally {
      await storage.close();
    }
  });
});
