// Transit's wire format is an on-disk format too (ciphertexts and signatures live in clients' databases):
// from fixed key material, every deterministic output (convergent ciphertexts of both nonce schemes, Ed25519
// and RSA PKCS#1 v1.5 signatures, HMACs) must stay byte for byte what it was. The inline values were written
// by the code before key versions became VersionKey handles; random-nonce and OAEP envelopes made here with
// node:crypto must decrypt.
import { constants, createCipheriv, createPrivateKey, createPublicKey, publicEncrypt } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { backendHarness } from "../../../test/backend-harness.js";
import { putJson } from "../../core/view.js";
import { createTransitBackendWith } from "./backend.js";
import { newPolicy, type KeyPolicy, type KeyType, type KeyVersion } from "./transit-key.js";

const CREATED = "2024-01-02T03:04:05.000000006Z";
const bytes = (n: number, from: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));
const b64 = (b: Buffer | string): string => Buffer.from(b).toString("base64");
const RSA_PKCS8 = "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDObJeQatT/YkA1ATu9CFP/cJN6wSoAqNwvAxfMJsFJS9wbdgF1NpnjH6bKYtTAZxBGCbNfd7yWEmVOYxsstTBNP9WCEfE77BGDHL1Lt3L3s+URfhpEHunFwx806HTK0Q1AxFU8lk9nwCOokZ99Rt8QgD+fc1zx3OJiIH6xYglCHS++3C8C9gJB9K90KXyvWsDT/iiOV2tzNPi01lDbRqwtbLbVKMCX0muAqXaOO1aA9TfzrYaWWr/KllE0+tFLVTrMyT3Qt1GqDY2hhisuGnvD8YVA2kfFyeajFlff697HbbfEkfc1VQTnbG9Is1I5VUy7nRMTOAhixEGQU9S1XNRbAgMBAAECggEADwSXgkpDdNERGsocLoSMl+j40dV72NBwNHtlH9Ux+sMqIFVVhdGTIJMM72yBTf4xkObjxe5QKhrsg+dx8q679OLQBcaIZnOmUoOkwf12v862u68Q+iPFnj2z54WB+b9711pxWRcWb9XqwjjWAadGU00BU/hwqqgHUFxM21rmkYisbfyHPx+K+RvxMAO69k4bBOY0ZGPcGtONz4b6SNowJQmftrR5bbPnfSvXBOxiHxXKIVoY6Yb8iN+5tHWIi57pZdt0BHOagT0KKpJw+7uFyojIW6+JuwXknOOdLCqmbqBWK7ejI4sSTYp65mGWGZDzXzdnlcXuV9QzrJvqELFSAQKBgQD/bSYLMEkaoXseAuzgef+/yQKcZa8M1TIC+EQThlG3RZCZPbQ6e2GNI8eQDE8w44yous2HYjocuT5AaTUNoE+MAb5jdFWrETupnx8ftPAuL7ppkrIIqsSi5cGVjonpiVKV5mFXu4LdGDUiqEUeeEajNfjMgWMwToPimf5s6ovJYwKBgQDO40VSchiatLiV9GixJWfRohyNTt9SqTKagsHR9Vxrf2OXj3+vOqa17eKI1DWl27HxoXQQMLJaDhvK/Mekrg7c7ST0I0Y3hKgLHhMYdQ67Nqd9X48K/rEYox4ZGEPAV4OuG00Iij05YyWqN9BS8Mk+IWl+j2M6IdwaMaGA4x42qQKBgQCdX+evvxlboiDUNeMyz5gm1zeXmwMGuhitQb/X88tHS0IzWJRB8CEDsAbWFu935MuWbjoR7xB1ACF92BSLB7nbPnvKlTPvSZfkA5lOlNHi8x88ytiMhILRBxSGDCOm0ygiGabiQjL3/GFIsDqd8mc7Sha4EgRGECosJMtg2gY0lwKBgQCSk7KpluyXrzKYC3GhED9d5t0TwK24gue3UKzBdHTmNHr7BlAQdh1nCANXrgHUYLLR3vG8BsRVyWknh7BqnGcrX1ivH86/xtzIA6bDzSuCuFYyHWHbCFewfOD2JprZyycgU3dgdZCq9/PXhXOzT6VEv6deY3iJ1zN522/xQPhHAQKBgQDKD05B2m1IynU+yUWsAVsEmCpiVZyjcDt+iMsXikTZAeJJgZhBtRndK4vWLKjHsQIfHkqTQtug8hbwfXKnF/e4vxTEM82wWj+2Dhm/dDHLKWc9PyZH8tni0CXxMyklD2G3DbAAMYNWZ3/QdDMmnAoeM3mCbF9ANxrNzVPaZ33j3Q==";
const ED25519_PKCS8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), bytes(32, 7)]);

function rsaVersion(): KeyVersion {
  const priv = createPrivateKey({ key: Buffer.from(RSA_PKCS8, "base64"), format: "der", type: "pkcs8" });
  return { creationTime: CREATED, privateKey: RSA_PKCS8, publicKey: b64(createPublicKey(priv).export({ type: "spki", format: "der" })), hmacKey: b64(bytes(32, 90)) };
}

function ed25519Version(): KeyVersion {
  const priv = createPrivateKey({ key: ED25519_PKCS8, format: "der", type: "pkcs8" });
  return { creationTime: CREATED, privateKey: b64(ED25519_PKCS8), publicKey: b64(createPublicKey(priv).export({ type: "spki", format: "der" })), hmacKey: b64(bytes(32, 60)) };
}

function policy(name: string, type: KeyType, v: KeyVersion, init: Partial<KeyPolicy> = {}): KeyPolicy {
  return { ...newPolicy(name, type, init), latestVersion: 1, keys: { "1": v } };
}

describe("transit wire format from fixed key material", () => {
  const h = backendHarness(createTransitBackendWith({}), { point: "transit/", type: "transit" });
  afterAll(() => h.close());
  const put = (p: KeyPolicy): Promise<void> => putJson(h.view, `policy/${p.name}`, p);
  const write = async (path: string, data: Record<string, unknown>): Promise<Record<string, unknown>> => (await h.call("write", path, data))!.data!;
  const context = b64("ctx"), aad = b64("aad"), input = b64("the quick brown fox");

  it("convergent ciphertexts (nonce schemes 1 and 2, with and without AAD) and HMACs", async () => {
    const sym = (n: string, type: KeyType, scheme?: 2): KeyPolicy =>
      policy(n, type, { creationTime: CREATED, key: b64(bytes(type === "aes128-gcm96" ? 16 : 32, 1)), hmacKey: b64(bytes(32, 40)), ...(scheme ? { convergentNonce: scheme } : {}) }, { derived: true, convergentEncryption: true });
    const out: Record<string, unknown> = {};
    for (const [n, type, scheme] of [["a256", "aes256-gcm96", 2], ["a256v1", "aes256-gcm96", undefined], ["a128", "aes128-gcm96", 2], ["cc", "chacha20-poly1305", 2]] as const) {
      await put(sym(n, type, scheme));
      out[n] = (await write(`encrypt/${n}`, { plaintext: input, context })).ciphertext;
      out[`${n}+aad`] = (await write(`encrypt/${n}`, { plaintext: input, context, associated_data: aad })).ciphertext;
      expect((await write(`decrypt/${n}`, { ciphertext: out[n], context })).plaintext).toBe(input);
    }
    out.hmac = (await write("hmac/a256", { input, algorithm: "sha2-256" })).hmac;
    await put(policy("mac", "hmac", { creationTime: CREATED, key: b64(bytes(48, 3)) }));
    out.hmacKey = (await write("hmac/mac/sha2-512", { input })).hmac;
    expect(out).toMatchInlineSnapshot(`
      {
        "a128": "vault:v1:t6gjunpL7BHg3Liho6X4fTuIS0vlb549DJQ5gB5fd9OCqWnOsIyUMthcDRw5KBk=",
        "a128+aad": "vault:v1:Nmo/FN8swU8pT/lkrIivPygd5R1rA8MmlhbqpSLoyDLrTYq8GuPbhQQn5LwGZs0=",
        "a256": "vault:v1:t6gjunpL7BHg3LihLShjb6Tvs178zAEVE4SMIkQyY4wzF+ExG2PZXeuFUXJMb/A=",
        "a256+aad": "vault:v1:Nmo/FN8swU8pT/lkRsUl4MhcWVfXQocHUtG8ZjrsrCcYWPEWgXPMk75b43IkLSc=",
        "a256v1": "vault:v1:Lrdu4B6JmtPLTncby1omrMSfzFZ/mITumeRj9d9bGa3iEguSl+cdBJJlrWTCPdM=",
        "a256v1+aad": "vault:v1:Nmo/FN8swU8pT/lkRsUl4MhcWVfXQocHUtG8ZjrsrCcYWPEWgXPMk75b43IkLSc=",
        "cc": "vault:v1:t6gjunpL7BHg3Lih5b8/sQlCZTZ7f4AJWGG7grY7FHLzBvoQCi698QUyCEXjnVU=",
        "cc+aad": "vault:v1:Nmo/FN8swU8pT/lkrm0sJA41YFRydPE2Mni8A7dc5ydt2dokV7s6C57/7G4IGkQ=",
        "hmac": "vault:v1:5bdZuvMUr3OUKgMBk/hbqZgYw3q9YK6bJdnHeS9fBt0=",
        "hmacKey": "vault:v1:47niChGtC6m8F+h8Ta3gIvfqpOdKOILhAHHE5C9WY59oR8SiXI8lbabaNGXMNipIu7A1PF9lBnc0GrOJvOhJ9g==",
      }
    `);
  });

  it("Ed25519 (plain and derived) and RSA PKCS#1 v1.5 signatures (message and prehashed)", async () => {
    await put(policy("ed", "ed25519", ed25519Version()));
    await put(policy("edd", "ed25519", ed25519Version(), { derived: true }));
    await put(policy("rsa", "rsa-2048", rsaVersion()));
    const digest = b64(bytes(32, 200));
    const out = {
      ed: (await write("sign/ed", { input })).signature,
      edDerived: await write("sign/edd", { input, context }),
      rsa: (await write("sign/rsa/sha2-256", { input, signature_algorithm: "pkcs1v15" })).signature,
      rsaPrehashed: (await write("sign/rsa/sha2-256", { input: digest, prehashed: true, signature_algorithm: "pkcs1v15" })).signature,
      rsaNone: (await write("sign/rsa/none", { input: digest, prehashed: true, signature_algorithm: "pkcs1v15" })).signature,
      rsaJws: (await write("sign/rsa/sha2-256", { input, signature_algorithm: "pkcs1v15", marshaling_algorithm: "jws" })).signature,
    };
    expect(out).toMatchInlineSnapshot(`
      {
        "ed": "vault:v1:LcmUWL3cPZlPuBc8yJZf93GGfv7G3gb44yqBFvX29+qiarp1M3iYxPoFvIyjc/uRadm7EM+OfHBoOMT/a4WiDQ==",
        "edDerived": {
          "key_version": 1,
          "public_key": "ueMiNAkTHw3wGm/WFn3LoQYshH5hLtB5Et2J7TgdDj8=",
          "signature": "vault:v1:uDtfvS21LGQseTz56reP2LPluUMCvHjmS0avxBkG/pdMhYimN+Ebsu9K09hjtXlpzmxLIAFnG/uE3sfMIWbADA==",
        },
        "rsa": "vault:v1:ik6onEW/cp6L41dOQ/5vZ8DvVc1qpB2JX7OgzVebkk3XKitMAHgOf8rm1MulbHG3t4TtJVh5b5BhZoWlasPDhy7UBmYtWR3EdAb10me5/uhk4j5GkVjsvkiZRbQn0ijSMFEECg3kbEAnAvEk+WfBmFcUAYYDcBuf/zhuqBgaY9ogwhCzBIYPpBlyukcaozaEuVLs5wURuhK8+XV9AitSe/ddXTkNzePa7D8QbwvoeoNfklF7MfDAM9RkUXZJq+kJmU0+aiR0Pt6Uq4jg4FLf4wdxbACQB6Fg8USqvnILy9rhQs9b5152KM0T1YmDjTGnS2CXGVuW3x47he0eD4CATw==",
        "rsaJws": "vault:v1:ik6onEW_cp6L41dOQ_5vZ8DvVc1qpB2JX7OgzVebkk3XKitMAHgOf8rm1MulbHG3t4TtJVh5b5BhZoWlasPDhy7UBmYtWR3EdAb10me5_uhk4j5GkVjsvkiZRbQn0ijSMFEECg3kbEAnAvEk-WfBmFcUAYYDcBuf_zhuqBgaY9ogwhCzBIYPpBlyukcaozaEuVLs5wURuhK8-XV9AitSe_ddXTkNzePa7D8QbwvoeoNfklF7MfDAM9RkUXZJq-kJmU0-aiR0Pt6Uq4jg4FLf4wdxbACQB6Fg8USqvnILy9rhQs9b5152KM0T1YmDjTGnS2CXGVuW3x47he0eD4CATw",
        "rsaNone": "vault:v1:xtk7U4yvXZXX1XcKWtl075aQx0z0y2S+njLMcXhnFKZPYjYL/Uk1BxWyE5UiiUZOMpN3hZ4FqTmftA7d8c2kw83YhzGb9MgUAwpJlWZa++QA9Tk4QiPaqgaobAfvNmn9MTzjqVsdDHE4ZCt58IGDBTNY+lTrAR+e9NbWw7lIh4zvrznW3W0osX0oL6eUPzzxWV5w79YzUvQpS9Dq8EawT8syTkC3m98y3tVUgQMjFnNEhd17KKvIfYjcNgPqUhWBV056hLUK10YCH0Nq3zCBaB+EMOkxNSOq2EW4zo9O/rbFzS3VlQQybHi8v+1l9lISJECw0O5fe29pp/RfrWhRRg==",
        "rsaPrehashed": "vault:v1:bMevhC9Gv47n9aOjV8PXPLoqeIqdjw2fS2iwEU4BT/fmFfIcAFZhY9p6aBEqXn32rCDgWp13TDCfkC/YzJQBHWxq5XYKLzHoafGSQNstfD4tXUIyYlro7m4vsD9RfZGGmMO4Y9qelXUnH2QRV/QqSfh9bbQYzOpk1mSY/B+h8BWsVS3n4XE8m2IpmVYivfGZGd3PqfF+PCeN4aPDQ/2LrpTKjwcIHtO/YODJI93VxWRYVcL9bQf41/iPmrlIkivbiBNPKWoC4d51GkRIb1/V80vQQtRFmy4/R8XpfRxuDue6FY/nl4Eg1szNXtlAQz2V1siS8RwCEUIHQYAiyI2fKA==",
      }
    `);
    expect((await write("verify/rsa/sha2-256", { input, signature: out.rsa, signature_algorithm: "pkcs1v15" })).valid).toBe(true);
  });

  it("random-nonce AEAD and RSA-OAEP envelopes made outside transit decrypt", async () => {
    const key = bytes(32, 1);
    await put(policy("g", "aes256-gcm96", { creationTime: CREATED, key: b64(key), hmacKey: b64(bytes(32, 40)) }));
    const nonce = bytes(12, 100);
    const c = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: 16 });
    c.setAAD(Buffer.from("aad"), { plaintextLength: 5 });
    const body = Buffer.concat([nonce, c.update("hello"), c.final(), c.getAuthTag()]);
    expect((await write("decrypt/g", { ciphertext: `vault:v1:${b64(body)}`, associated_data: aad })).plaintext).toBe(b64("hello"));

    const v = rsaVersion();
    await put(policy("r", "rsa-2048", v));
    const oaep = publicEncrypt({ key: createPublicKey({ key: Buffer.from(v.publicKey!, "base64"), format: "der", type: "spki" }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, Buffer.from("hello"));
    expect((await write("decrypt/r", { ciphertext: `vault:v1:${b64(oaep)}` })).plaintext).toBe(b64("hello"));
  });
});
