import { describe, expect, it } from "vitest";
import { checkOutboundUrl, connectTarget, refusalOf, STRICT_OUTBOUND, type Resolver } from "./outbound-guard.js";

const resolves =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

describe("outbound guard", () => {
  it.each([
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.100.100.200",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
    "fd00::1",
    "fd00:ec2::254",
    "fc12::1",
    "fe80::1",
    "ff02::1",
  ])("refuses %s by default", (addr) => {
    expect(refusalOf(addr, STRICT_OUTBOUND)).toBeDefined();
  });

  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"])("allows the public address %s", (addr) => {
    expect(refusalOf(addr, STRICT_OUTBOUND)).toBeUndefined();
  });

  it("allowed networks open exactly their range", () => {
    const policy = { allowHttp: false, allowedNetworks: ["127.0.0.0/8", "fd12::/16"] };
    expect(refusalOf("127.0.0.1", policy)).toBeUndefined();
    expect(refusalOf("fd12::5", policy)).toBeUndefined();
    expect(refusalOf("10.0.0.1", policy)).toBeDefined();
    expect(refusalOf("169.254.169.254", policy)).toBeDefined();
  });

  it("URLs: https only unless allowed, no credentials, no query", () => {
    expect(checkOutboundUrl("https://kms.example.com:8200", "address", STRICT_OUTBOUND).host).toBe("kms.example.com:8200");
    expect(() => checkOutboundUrl("http://kms.example.com", "address", STRICT_OUTBOUND)).toThrow(/plain http is not allowed/);
    expect(checkOutboundUrl("http://kms.example.com", "address", { allowHttp: true, allowedNetworks: [] }).protocol).toBe("http:");
    expect(() => checkOutboundUrl("https://u:p@kms.example.com", "address", STRICT_OUTBOUND)).toThrow(/credentials/);
    expect(() => checkOutboundUrl("file:///etc/passwd", "address", STRICT_OUTBOUND)).toThrow(/https/);
    expect(() => checkOutboundUrl("https://x.example/?a=b", "address", STRICT_OUTBOUND)).toThrow(/query/);
    expect(() => checkOutboundUrl("not a url", "address", STRICT_OUTBOUND)).toThrow(/not a URL/);
  });

  it("checks every resolved address, not the name: one private answer refuses the host", async () => {
    const url = new URL("https://kms.example.com");
    await expect(connectTarget(url, "address", STRICT_OUTBOUND, resolves("93.184.216.34"))).resolves.toEqual({ address: "93.184.216.34", family: 4 });
    await expect(connectTarget(url, "address", STRICT_OUTBOUND, resolves("93.184.216.34", "169.254.169.254"))).rejects.toThrow(/169\.254\.169\.254/);
    await expect(connectTarget(url, "address", STRICT_OUTBOUND, resolves("fd00::1"))).rejects.toThrow(/private/);
    await expect(connectTarget(new URL("https://[::ffff:7f00:1]/"), "address", STRICT_OUTBOUND, resolves("93.184.216.34"))).rejects.toThrow(/::ffff:7f00:1/);
    await expect(connectTarget(new URL("https://127.0.0.1/"), "address", STRICT_OUTBOUND)).rejects.toThrow(/loopback/);
    const noAnswer: Resolver = async () => {
      throw new Error("ENOTFOUND");
    };
    await expect(connectTarget(url, "address", STRICT_OUTBOUND, noAnswer)).rejects.toThrow(/does not resolve/);
  });
});
