// What a BYOK customer runs to wrap key material for Arca: the exact openssl commands of docs/keychain-byok.md
// (keep the two in step), run by sh in a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The commands of docs/keychain-byok.md, from wrapping.pem (the import-params public_key) to material.b64. */
export const CUSTOMER_WRAP_SCRIPT = `
set -eu
openssl rand -out ephemeral.bin 32
openssl pkeyutl -encrypt -pubin -inkey wrapping.pem -in ephemeral.bin -out ephemeral.wrapped \\
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
openssl enc -id-aes256-wrap-pad -K "$(od -An -v -tx1 ephemeral.bin | tr -d ' \\n')" -iv A65959A6 \\
  -in key.bin -out key.wrapped
cat ephemeral.wrapped key.wrapped | base64 | tr -d '\\n' > material.b64
rm -f ephemeral.bin
`;

export function opensslAvailable(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Wraps `key` (made with `openssl rand -out key.bin 32` unless given) for `publicKeyPem` and returns the key
 * and the base64 material to POST.
 */
export function customerWrap(publicKeyPem: string, key?: Buffer): { key: Buffer; material: string } {
  const dir = mkdtempSync(join(tmpdir(), "arca-byok-"));
  try {
    writeFileSync(join(dir, "wrapping.pem"), publicKeyPem);
    if (key) writeFileSync(join(dir, "key.bin"), key);
    else execFileSync("openssl", ["rand", "-out", "key.bin", "32"], { cwd: dir });
    execFileSync("sh", ["-c", CUSTOMER_WRAP_SCRIPT], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    return { key: readFileSync(join(dir, "key.bin")), material: readFileSync(join(dir, "material.b64"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
