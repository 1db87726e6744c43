// Test support for transit's signature suites: an independent check of a signature by openssl.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `openssl pkeyutl -verify` of `sig` over `digest` itself (openssl does no hashing); true when it verifies. */
export function pkeyutlVerify(publicKeyPem: string, sig: Buffer, digest: Buffer, pkeyopts: readonly string[]): boolean {
  const dir = mkdtempSync(join(tmpdir(), "arca-transit-"));
  try {
    writeFileSync(join(dir, "pub.pem"), publicKeyPem);
    writeFileSync(join(dir, "sig"), sig);
    writeFileSync(join(dir, "dgst"), digest);
    const opts = pkeyopts.flatMap((o) => ["-pkeyopt", o]);
    const out = execFileSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-in", join(dir, "dgst"), "-sigfile", join(dir, "sig"), ...opts], { encoding: "utf8" });
    return /Signature Verified Successfully/.test(out);
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
