/** dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<name> holding base64url(SHA-256(key authorization)). */
import { createHash } from "node:crypto";
import type { Identifier } from "../acme-store.js";
import { problem } from "../problem.js";
import type { AcmeResolver } from "./resolver.js";

export async function checkDns01(id: Identifier, keyAuthorization: string, resolver: AcmeResolver): Promise<void> {
  const want = createHash("sha256").update(keyAuthorization).digest("base64url");
  const records = await resolver.txt(`_acme-challenge.${id.value}`);
  if (!records.some((r) => r.trim() === want)) throw problem("incorrectResponse", `no TXT record at _acme-challenge.${id.value} matches the key authorization`, 403);
}
