/**
 * `type=transit` (HYOK): L1 keys stay in the customer's own OpenBao / Vault / Arca Transit; L2 material is
 * wrapped and unwrapped by calling its encrypt/decrypt with a named key (`native_id`). The customer owns the
 * key and the token: revoking the token, changing its policy or deleting the key cuts Arca off, which the
 * HYOK sync notices (probe) and which refuses every unwrap beneath.
 *
 * - The keystore's `token` is a secret: stored with the keystore's secrets, never shown back, never logged.
 * - `address` goes through the outbound guard (http, loopback/private/link-local/metadata refused unless the
 *   server config allows them), at creation and at every request, on the resolved addresses.
 * - Transit encrypts with upsert: encrypting to a missing key may *create* it. So Arca encrypts only at attach
 *   (a canary) and when wrapping, and each wrap first decrypts the canary: a key deleted and re-created under
 *   the same name cannot decrypt it, and is refused instead of silently replacing the customer's key.
 *   Probes only decrypt. Recommend the customer's policy grants `update` (not `create`) on encrypt/decrypt.
 * - The associated data is bound by prefixing SHA-256(aad) to the plaintext inside Transit's authenticated
 *   ciphertext (works on every Transit, whether or not it supports associated_data).
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import { checkOutboundUrl, connectTarget, type OutboundPolicy } from "../../common/outbound-guard.js";
import type { KeystoreContext, KeystoreProvider, KeystoreSettings, KeystoreType, L1Algorithm, L1Ref, ProbeResult } from "./keystore.js";
import { TransitCallError, TransitClient } from "./transit-client.js";

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/;
const NAMESPACE = MOUNT;
const AAD_DIGEST_BYTES = 32;

function aadDigest(aad: Buffer): Buffer {
  return createHash("sha256").update(aad).digest();
}

/** A Transit failure as the API's error: access withdrawn is the caller's 400, an unreachable service a 503. */
function asArca(err: unknown, what: string): ArcaError {
  if (err instanceof ArcaError) return err;
  if (err instanceof TransitCallError) {
    if (err.failure === "forbidden" || err.failure === "not_found") return new ArcaError("invalid_request", `${what}: the customer's Transit key is not usable (${err.message})`);
    return new ArcaError("unavailable", `${what}: ${err.message}`);
  }
  return new ArcaError("unavailable", `${what}: the customer's Transit could not be used`);
}

class TransitKeystore implements KeystoreProvider {
  constructor(private readonly client: TransitClient) {}

  async createKey(): Promise<L1Ref> {
    throw invalidRequest("a transit keystore holds the customer's own keys (origin=hyok): create the key in your Transit and name it in native_id");
  }

  async attach(nativeId: string, algorithm: L1Algorithm): Promise<L1Ref> {
    if (algorithm !== "AES256") throw invalidRequest("transit keystores hold AES256 L1 keys");
    if (!KEY_NAME.test(nativeId)) throw invalidRequest("native_id must be the Transit key's name (letters, digits, '.', '_', '-')");
    const canary = randomBytes(32);
    try {
      const ciphertext = await this.client.encrypt(nativeId, canary);
      const back = await this.client.decrypt(nativeId, ciphertext);
      if (!back.equals(canary)) throw invalidRequest("the Transit key did not decrypt what it encrypted");
      return { uri: nativeId, owned: false, extra: { canary: ciphertext, canary_digest: aadDigest(canary).toString("hex") } };
    } catch (err) {
      throw asArca(err, "attaching the Transit key");
    }
  }

  async wrap(ref: L1Ref, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    try {
      if (!(await this.canaryDecrypts(ref))) throw invalidRequest("the Transit key is not the one attached (it was deleted or replaced)");
      const ct = await this.client.encrypt(ref.uri, Buffer.concat([aadDigest(aad), plaintext]));
      return Buffer.from(ct, "utf8");
    } catch (err) {
      throw asArca(err, "wrapping under the HYOK key");
    }
  }

  async unwrap(ref: L1Ref, blob: Buffer, aad: Buffer): Promise<Buffer> {
    let inner: Buffer;
    try {
      inner = await this.client.decrypt(ref.uri, blob.toString("utf8"));
    } catch (err) {
      throw asArca(err, "unwrapping under the HYOK key");
    }
    try {
      if (inner.length < AAD_DIGEST_BYTES || !timingSafeEqual(inner.subarray(0, AAD_DIGEST_BYTES), aadDigest(aad))) {
        throw invalidRequest("the wrapped key does not belong here");
      }
      return Buffer.from(inner.subarray(AAD_DIGEST_BYTES));
    } finally {
      inner.fill(0);
    }
  }

  async probe(ref: L1Ref): Promise<ProbeResult> {
    try {
      return (await this.canaryDecrypts(ref)) ? "ENABLED" : "FORBIDDEN";
    } catch (err) {
      if (err instanceof TransitCallError && (err.failure === "forbidden" || err.failure === "not_found")) return "FORBIDDEN";
      return "UNKNOWN";
    }
  }

  async destroy(): Promise<void> {
    throw invalidRequest("a HYOK key belongs to the customer: Arca never destroys it");
  }

  /** True when the key decrypts the attach-time canary; a replaced key gives false (or a Transit 400). */
  private async canaryDecrypts(ref: L1Ref): Promise<boolean> {
    const canary = ref.extra?.canary;
    const digest = ref.extra?.canary_digest;
    if (!canary || !digest) return false;
    let back: Buffer;
    try {
      back = await this.client.decrypt(ref.uri, canary);
    } catch (err) {
      // A re-created key fails to authenticate the old ciphertext: Transit says 400, which is "not this key".
      if (err instanceof TransitCallError && err.failure === "bad_response") return false;
      throw err;
    }
    const ok = aadDigest(back).toString("hex") === digest;
    back.fill(0);
    return ok;
  }
}

function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const v = input[field];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw invalidRequest(`${field} must be a string`);
  return v;
}

/** The transit keystore type; `outbound` is the operator's policy (server config), read at each use. */
export function transitKeystoreType(outbound: () => OutboundPolicy): KeystoreType {
  return {
    type: "transit",
    origins: ["hyok"],
    async parse(input: Record<string, unknown>) {
      const policy = outbound();
      const url = checkOutboundUrl(input.address, "address", policy);
      await connectTarget(url, "address", policy);
      const token = input.token;
      if (typeof token !== "string" || token === "" || /[\r\n]/.test(token)) throw invalidRequest("token is required: a token of the customer's Transit");
      const mount = optionalString(input, "mount") ?? "transit";
      if (!MOUNT.test(mount) || mount.split("/").includes("..")) throw invalidRequest("mount must be a mount path such as transit or team/transit");
      const namespace = optionalString(input, "namespace");
      if (namespace !== undefined && !NAMESPACE.test(namespace)) throw invalidRequest("namespace must be a namespace path such as team or team/sub");
      const caCert = optionalString(input, "ca_cert");
      if (caCert !== undefined) {
        try {
          new X509Certificate(caCert);
        } catch {
          throw invalidRequest("ca_cert must be a PEM certificate");
        }
      }
      const config: Record<string, string> = { address: url.toString().replace(/\/$/, ""), mount };
      if (namespace !== undefined) config.namespace = namespace;
      if (caCert !== undefined) config.ca_cert = caCert;
      return { config, secrets: { token } };
    },
    open(settings: KeystoreSettings, _ctx: KeystoreContext): KeystoreProvider {
      const c = settings.config;
      return new TransitKeystore(
        new TransitClient({
          address: c.address ?? "",
          mount: c.mount ?? "transit",
          namespace: c.namespace,
          caCert: c.ca_cert,
          token: settings.secrets.token ?? "",
          policy: outbound(),
        }),
      );
    },
  };
}
