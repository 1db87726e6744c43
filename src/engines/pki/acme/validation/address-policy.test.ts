// The validator's address policy: special-purpose ranges refused unless allowed_validation_networks lists them.
import { describe, expect, it } from "vitest";
import { AddressPolicy } from "./address-policy.js";

describe("validation address policy", () => {
  const closed = new AddressPolicy([]);
  it.each([
    "127.0.0.1", "127.1.2.3", "169.254.169.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255",
    "::1", "::", "::7f00:1", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:a9fe:a9fe", "64:ff9b::a9fe:a9fe", "64:ff9b::10.0.0.1",
    "not an address", "",
  ])("refuses %s by default", (a) => {
    expect(closed.permits(a)).toBe(false);
  });
  // The shared rule set (common/outbound-guard.ts) is the stricter one: documentation, 6to4 relay, Teredo,
  // 6to4 and discard ranges are refused too.
  it.each(["192.0.2.1", "198.51.100.7", "203.0.113.5", "192.88.99.1", "2001:db8::1", "2002:7f00:1::", "2001::1", "100::1", "fec0::1"])(
    "refuses the special-purpose address %s by default",
    (a) => {
      expect(closed.permits(a)).toBe(false);
    },
  );
  it.each(["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])("permits the public address %s", (a) => {
    expect(closed.permits(a)).toBe(true);
  });
  it("permits what allowed_validation_networks lists, and only that", () => {
    const open = new AddressPolicy(["127.0.0.0/8", "fd00::/8"]);
    expect(open.permits("127.0.0.1")).toBe(true);
    expect(open.permits("::ffff:127.0.0.1")).toBe(true);
    expect(open.permits("fd12::1")).toBe(true);
    expect(open.permits("169.254.169.254")).toBe(false);
    expect(open.permits("::1")).toBe(false);
  });
});
