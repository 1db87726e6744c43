/** Order identifiers (RFC 8555 §7.1.4, RFC 8738 for IPs): checked and normalised before anything is stored. */
import { isIP } from "node:net";
import type { Identifier } from "./acme-store.js";
import { problem } from "./problem.js";

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
export const MAX_IDENTIFIERS = 100;

export function isDnsName(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split(".");
  return labels.length >= 2 && labels.every((l) => LABEL.test(l));
}

export function parseIdentifiers(v: unknown): Identifier[] {
  if (!Array.isArray(v) || v.length === 0) throw problem("malformed", "identifiers must be a non-empty array");
  if (v.length > MAX_IDENTIFIERS) throw problem("rejectedIdentifier", `at most ${MAX_IDENTIFIERS} identifiers per order`);
  const out: Identifier[] = [];
  for (const raw of v as unknown[]) {
    if (typeof raw !== "object" || raw === null) throw problem("malformed", "each identifier must be an object {type, value}");
    const { type, value } = raw as Record<string, unknown>;
    if (typeof value !== "string") throw problem("malformed", "identifier value must be a string");
    let id: Identifier;
    if (type === "dns") {
      const name = value.toLowerCase();
      const base = name.startsWith("*.") ? name.slice(2) : name;
      if (!isDnsName(base)) throw problem("rejectedIdentifier", `"${value.slice(0, 80)}" is not a DNS name this server issues for`);
      id = { type: "dns", value: name };
    } else if (type === "ip") {
      if (isIP(value) === 0) throw problem("malformed", `"${value.slice(0, 80)}" is not an IP address`);
      id = { type: "ip", value };
    } else {
      throw problem("unsupportedIdentifier", 'identifier type must be "dns" or "ip"');
    }
    if (!out.some((o) => o.type === id.type && o.value === id.value)) out.push(id);
  }
  return out;
}
