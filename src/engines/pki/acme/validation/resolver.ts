/**
 * Name resolution for validation: through config/acme `dns_resolver` when set (the DNS server the operator
 * trusts for challenges), else the system's servers — always by DNS, never /etc/hosts, so what the
 * validator reaches is what the name's owner published.
 */
import { Resolver } from "node:dns/promises";
import { problem } from "../problem.js";

export interface AcmeResolver {
  /** A and AAAA records of `name`. */
  addresses(name: string): Promise<string[]>;
  /** TXT records of `name`, each joined from its strings. */
  txt(name: string): Promise<string[]>;
}

export function dnsResolver(server: string, timeoutMs: number): AcmeResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server !== "") r.setServers([server]);
  return {
    addresses: async (name) => {
      const [v4, v6] = await Promise.allSettled([r.resolve4(name), r.resolve6(name)]);
      const out = [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
      if (out.length === 0) throw problem("dns", `no A or AAAA records found for ${name}`);
      return out;
    },
    txt: async (name) => {
      try {
        return (await r.resolveTxt(name)).map((chunks) => chunks.join(""));
      } catch (err) {
        const code = (err as { code?: string }).code ?? "";
        throw problem("dns", `no TXT records found for ${name}${code ? ` (${code})` : ""}`);
      }
    },
  };
}
