/**
 * A small ACME client (RFC 8555) for tests and bench/acme: signs with `jose`, over any transport (real HTTP,
 * or a backend driven in-process). Deliberately permissive — it lets a test send what a broken or hostile
 * client would (a wrong url, a reused nonce, both jwk and kid) through `signed()`.
 */
import { createHash } from "node:crypto";
import { exportJWK, FlattenedSign, generateKeyPair, type CryptoKey, type JWK } from "jose";

export interface AcmeReply {
  status: number;
  headers: { replayNonce?: string; location?: string; link?: string[]; retryAfter?: number; contentType?: string };
  body: string;
}

export type Transport = (method: "GET" | "HEAD" | "POST", url: string, body?: string, contentType?: string) => Promise<AcmeReply>;

export interface AccountKey {
  alg: "RS256" | "ES256" | "ES384" | "EdDSA";
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function accountKey(alg: AccountKey["alg"] = "ES256"): Promise<AccountKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true });
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}

export interface SignOptions {
  url: string;
  /** undefined: POST-as-GET (empty payload). */
  payload?: unknown;
  nonce?: string;
  jwk?: JWK;
  kid?: string;
  key?: AccountKey;
  /** Override the protected header's alg. */
  alg?: string;
}

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  keyChange: string;
  renewalInfo: string;
  meta?: { externalAccountRequired?: boolean };
}

export class AcmeTestClient {
  kid: string | undefined;
  private nonces: string[] = [];
  dir!: Directory;

  constructor(
    private readonly transport: Transport,
    readonly directoryUrl: string,
    public key: AccountKey,
  ) {}

  async init(): Promise<this> {
    const r = await this.transport("GET", this.directoryUrl);
    if (r.status !== 200) throw new Error(`directory: ${r.status} ${r.body}`);
    this.dir = JSON.parse(r.body) as Directory;
    return this;
  }

  async nonce(): Promise<string> {
    const n = this.nonces.pop();
    if (n) return n;
    const r = await this.transport("HEAD", this.dir.newNonce);
    if (!r.headers.replayNonce) throw new Error(`new-nonce gave no nonce (${r.status})`);
    return r.headers.replayNonce;
  }

  /** A flattened JWS as the body of a POST. */
  async signed(o: SignOptions): Promise<string> {
    const key = o.key ?? this.key;
    const header: Record<string, unknown> = { alg: o.alg ?? key.alg, nonce: o.nonce ?? (await this.nonce()), url: o.url };
    if (o.jwk) header.jwk = o.jwk;
    if (o.kid) header.kid = o.kid;
    if (!o.jwk && !o.kid) {
      if (this.kid) header.kid = this.kid;
      else header.jwk = key.jwk;
    }
    const payload = o.payload === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(o.payload));
    const jws = await new FlattenedSign(payload).setProtectedHeader(header).sign(key.privateKey);
    return JSON.stringify(jws);
  }

  /** POSTs a JWS; remembers the Replay-Nonce. */
  async postRaw(url: string, body: string, contentType = "application/jose+json"): Promise<AcmeReply> {
    const r = await this.transport("POST", url, body, contentType);
    if (r.headers.replayNonce) this.nonces.push(r.headers.replayNonce);
    return r;
  }

  async post(url: string, payload?: unknown, extra: Partial<SignOptions> = {}): Promise<AcmeReply> {
    for (let i = 0; ; i++) {
      const r = await this.postRaw(url, await this.signed({ url, payload, ...extra }));
      // A client retries badNonce with the fresh nonce (RFC 8555 §6.5).
      if (r.status === 400 && i < 3 && r.body.includes("badNonce") && extra.nonce === undefined) continue;
      return r;
    }
  }

  async json<T = Record<string, unknown>>(url: string, payload?: unknown, extra: Partial<SignOptions> = {}): Promise<{ reply: AcmeReply; body: T }> {
    const reply = await this.post(url, payload, extra);
    if (reply.status >= 400) throw new Error(`${url}: ${reply.status} ${reply.body}`);
    return { reply, body: (reply.body === "" ? {} : JSON.parse(reply.body)) as T };
  }

  async register(payload: Record<string, unknown> = { termsOfServiceAgreed: true }): Promise<AcmeReply> {
    const r = await this.post(this.dir.newAccount, payload, { jwk: this.key.jwk });
    if (r.status === 200 || r.status === 201) this.kid = r.headers.location;
    return r;
  }

  async thumbprint(): Promise<string> {
    const { calculateJwkThumbprint } = await import("jose");
    return calculateJwkThumbprint(this.key.jwk, "sha256");
  }

  async keyAuthorization(token: string): Promise<string> {
    return `${token}.${await this.thumbprint()}`;
  }
}

export const dns01Value = (keyAuthorization: string): string => createHash("sha256").update(keyAuthorization).digest("base64url");
