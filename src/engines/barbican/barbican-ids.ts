/**
 * Resource ids: UUIDv4 whose first 32 bits are a tag of the owning project (a hash of its namespace id).
 * Every project has its own mount, so a secret id of another project is not in this mount's storage;
 * Barbican answers that case 403, not 404, and the tag is how this mount tells "another project's id" from
 * "no such id" without looking outside its own storage. The tag is public (a hash of an id) and carries no
 * secret. The next 16 bits are check digits over the rest, so an id this server never minted (the nil UUID, a
 * guess) is "invalid" (404) rather than "another project's" (403). Ids stay valid UUIDv4 (version and
 * variant bits untouched) for clients that check the form.
 */
import { createHash, randomUUID } from "node:crypto";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function projectTag(namespaceId: string): string {
  return createHash("sha256").update(`arca-barbican-project\0${namespaceId}`).digest("hex").slice(0, 8);
}

/** 4 hex digits binding the tag to the rest of the id: a random or made-up UUID fails it (1 in 65536 passes). */
function checkDigits(tag: string, rest: string): string {
  return createHash("sha256").update(`${tag}${rest}`).digest("hex").slice(0, 4);
}

export function newId(tag: string): string {
  const rest = randomUUID().slice(13);
  return `${tag}-${checkDigits(tag, rest)}${rest}`;
}

export type IdCheck = "mine" | "foreign" | "invalid";

/** Whether `id` is well-formed and, if so, whether this project minted it. */
export function checkId(id: string, tag: string): IdCheck {
  if (!UUID.test(id) || id.slice(9, 13) !== checkDigits(id.slice(0, 8), id.slice(13))) return "invalid";
  return id.startsWith(tag) ? "mine" : "foreign";
}

/** The id at the end of a Barbican ref (`http://…/v1/secrets/<id>`), or the ref itself when it is a bare id. */
export function idOfRef(ref: string): string {
  const trimmed = ref.endsWith("/") ? ref.slice(0, -1) : ref;
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}
