import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatPkcs11Uri, parsePkcs11Uri, Pkcs11UriError, redactPkcs11Uri, type Pkcs11Uri } from "./uri.js";

describe("RFC 7512 §3.3 examples", () => {
  it("pkcs11: (empty URI matches everything)", () => {
    expect(parsePkcs11Uri("pkcs11:")).toEqual({});
  });

  it("object and type", () => {
    expect(parsePkcs11Uri("pkcs11:object=my-pubkey;type=public")).toEqual({ object: "my-pubkey", type: "public" });
  });

  it("pin-source in the query", () => {
    expect(parsePkcs11Uri("pkcs11:object=my-key;type=private?pin-source=file:/etc/token")).toEqual({
      object: "my-key",
      type: "private",
      pinSource: "file:/etc/token",
    });
  });

  it("token, manufacturer, binary id, empty serial", () => {
    const u = parsePkcs11Uri(
      "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;" +
        "object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
    );
    expect(u.token).toBe("The Software PKCS#11 Softtoken");
    expect(u.manufacturer).toBe("Snake Oil, Inc.");
    expect(u.model).toBe("1.0");
    expect(u.object).toBe("my-certificate");
    expect(u.type).toBe("cert");
    expect(u.id).toEqual(Buffer.from([0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91]));
    expect(u.serial).toBe("");
    expect(u.pinSource).toBe("file:/etc/token_pin");
  });

  it("module-name and module-path", () => {
    expect(parsePkcs11Uri("pkcs11:object=my-sign-key;type=private?module-name=mypkcs11")).toMatchObject({ moduleName: "mypkcs11" });
    expect(parsePkcs11Uri("pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1")).toMatchObject({
      modulePath: "/mnt/libmypkcs11.so.1",
    });
  });

  it("pin-value", () => {
    expect(parsePkcs11Uri("pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin")).toEqual({
      token: "Software PKCS#11 softtoken",
      manufacturer: "Snake Oil, Inc.",
      pinValue: "the-pin",
    });
  });

  it("slot and library attributes", () => {
    expect(parsePkcs11Uri("pkcs11:slot-description=Sun%20Metaslot")).toEqual({ slotDescription: "Sun Metaslot" });
    expect(
      parsePkcs11Uri("pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23"),
    ).toEqual({
      libraryManufacturer: "Snake Oil, Inc.",
      libraryDescription: "Soft Token Library",
      libraryVersion: { major: 1, minor: 23 },
    });
    expect(parsePkcs11Uri("pkcs11:slot-manufacturer=Acme;slot-id=324104053")).toEqual({ slotManufacturer: "Acme", slotId: 324104053 });
  });

  it("percent-encoded reserved characters and UTF-8", () => {
    expect(parsePkcs11Uri("pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert").token).toBe(
      "A name with a substring %;",
    );
    expect(parsePkcs11Uri("pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert").token).toBe(
      "Name with a small A with acute: á",
    );
  });

  it("vendor-specific attributes are kept", () => {
    const u = parsePkcs11Uri("pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b");
    expect(u.vendor).toEqual({ "vendor-aaa": "value-a" });
    expect(u.vendorQuery).toEqual({ "vendor-bbb": "value-b" });
    expect(formatPkcs11Uri(u)).toBe(
      "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
    );
  });
});

describe("rejections", () => {
  const bad: Array<[string, string]> = [
    ["http://x", "wrong scheme"],
    ["pkcs11:token=a;token=b", "duplicate path attribute"],
    ["pkcs11:object=k?pin-source=a&pin-source=b", "duplicate query attribute"],
    ["pkcs11:object=k?pin-value=1&pin-source=file:/p", "pin-value with pin-source"],
    ["pkcs11:type=secret-thing", "bad type"],
    ["pkcs11:slot-id=abc", "non-numeric slot-id"],
    ["pkcs11:library-version=1.x", "bad library-version"],
    ["pkcs11:token=a b", "unencoded space"],
    ["pkcs11:token=a%2", "truncated percent escape"],
    ["pkcs11:token=%ZZ", "bad percent escape"],
    ["pkcs11:token", "attribute without ="],
    ["pkcs11:=x", "empty attribute name"],
    ["pkcs11:to/ken=x", "malformed attribute name"],
    ["pkcs11:token=a;", "trailing separator"],
    ["pkcs11:token=%FF%FE", "invalid UTF-8 in a text attribute"],
    ["pkcs11:pin-value=1234", "query attribute in the path"],
    ["pkcs11:?token=x", "path attribute in the query"],
    ["pkcs11:object=k#frag", "fragment"],
    ["pkcs11:object=k?module-path=/a&b", "query part without ="],
  ];
  it.each(bad)("%s (%s)", (input) => {
    expect(() => parsePkcs11Uri(input)).toThrow(Pkcs11UriError);
  });

  it("error messages never echo a PIN", () => {
    try {
      parsePkcs11Uri("pkcs11:object=k?pin-value=s3cr3t&pin-source=file:/p");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain("s3cr3t");
    }
    try {
      parsePkcs11Uri("pkcs11:object=k?pin-value=s3cr3t%zz");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain("s3cr3t");
    }
  });
});

describe("format", () => {
  it("encodes id as %XX bytes and reserved characters in text", () => {
    expect(formatPkcs11Uri({ token: "PKCS#11 token; 1", object: "k", id: Buffer.from([1, 2]), type: "private" })).toBe(
      "pkcs11:token=PKCS%2311%20token%3B%201;object=k;id=%01%02;type=private",
    );
  });

  it("drops pin-value unless asked, and redacts for logs", () => {
    const u: Pkcs11Uri = { token: "t", modulePath: "/usr/lib/softhsm/libsofthsm2.so", pinValue: "1234" };
    expect(formatPkcs11Uri(u)).toBe("pkcs11:token=t?module-path=/usr/lib/softhsm/libsofthsm2.so");
    expect(formatPkcs11Uri(u, { includePinValue: true })).toBe("pkcs11:token=t?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234");
    expect(formatPkcs11Uri(u, { redact: true })).toContain("pin-value=REDACTED");
    expect(redactPkcs11Uri("pkcs11:token=t?pin-value=1234")).not.toContain("1234");
  });

  it("accepts type=secret as a shorthand and emits secret-key", () => {
    expect(formatPkcs11Uri(parsePkcs11Uri("pkcs11:object=k;type=secret"))).toBe("pkcs11:object=k;type=secret-key");
  });
});

describe("round trips", () => {
  const text = fc.string({ unit: "grapheme", maxLength: 12 });
  const uriArb: fc.Arbitrary<Pkcs11Uri> = fc.record(
    {
      token: text,
      manufacturer: text,
      serial: text,
      model: text,
      libraryManufacturer: text,
      libraryDescription: text,
      libraryVersion: fc.record({ major: fc.nat(999), minor: fc.nat(99) }),
      slotManufacturer: text,
      slotDescription: text,
      slotId: fc.nat(),
      object: text,
      id: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
      type: fc.constantFrom("public", "private", "cert", "secret-key", "data" as const),
      pinSource: text,
      moduleName: text,
      modulePath: text,
    },
    { requiredKeys: [] },
  );

  it("parse(format(u)) == u for any URI", () => {
    fc.assert(
      fc.property(uriArb, (u) => {
        expect(parsePkcs11Uri(formatPkcs11Uri(u))).toEqual(u);
      }),
    );
  });

  it("pin-value round-trips when included", () => {
    fc.assert(
      fc.property(text, (pin) => {
        expect(parsePkcs11Uri(formatPkcs11Uri({ object: "k", pinValue: pin }, { includePinValue: true })).pinValue).toBe(pin);
      }),
    );
  });

  it("RFC examples survive parse → format → parse", () => {
    for (const s of [
      "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
      "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
      "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
    ]) {
      const u = parsePkcs11Uri(s);
      expect(parsePkcs11Uri(formatPkcs11Uri(u))).toEqual(u);
    }
  });
});
