/**
 * Where the validator may connect. The identifier, and so the address, is chosen by whoever places an
 * order: without this, ACME would be a request forger into the server's own network (loopback services,
 * cloud metadata at 169.254.169.254, private ranges). Refused unless config/acme
 * `allowed_validation_networks` lists a network that contains the address.
 *
 * The ranges are the server's one outbound rule set (common/outbound-guard.ts, shared with keychain HYOK);
 * an IPv4-mapped or NAT64 address is judged by the IPv4 host it stands for.
 */
import type { BlockList } from "node:net";
import { addressRefusal, parseAllowedNetworks } from "../../../../common/outbound-guard.js";

export class AddressPolicy {
  private readonly allowed: BlockList | undefined;

  /** `allowed`: CIDRs (config/acme allowed_validation_networks), already checked when configured. */
  constructor(allowed: readonly string[]) {
    this.allowed = allowed.length > 0 ? parseAllowedNetworks(allowed) : undefined;
  }

  /** True when the validator may connect to `address` (an IP literal). */
  permits(address: string): boolean {
    return addressRefusal(address, this.allowed, "embedded") === undefined;
  }
}
