/** The addresses an identifier may be validated at: the resolver's answers that the address policy permits. */
import type { Identifier } from "../acme-store.js";
import { problem } from "../problem.js";
import type { AddressPolicy } from "./address-policy.js";
import type { AcmeResolver } from "./resolver.js";

export async function permittedAddresses(id: Identifier, resolver: AcmeResolver, policy: AddressPolicy): Promise<string[]> {
  const all = id.type === "ip" ? [id.value] : await resolver.addresses(id.value);
  const ok = all.filter((a) => policy.permits(a));
  if (ok.length === 0) throw problem("connection", `${id.value} resolves only to addresses the validator may not connect to (config/acme allowed_validation_networks)`);
  return ok;
}

/** The first address that answers: a later one is tried when an earlier one cannot be reached. */
export async function firstAnswer<T>(addresses: string[], attempt: (address: string) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const a of addresses) {
    try {
      return await attempt(a);
    } catch (err) {
      last = err;
      if ((err as { type?: string }).type !== "connection") throw err;
    }
  }
  throw last;
}
