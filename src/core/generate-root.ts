/**
 * Root-token generation from operator shares (OpenBao's `vault/generate_root.go`): when every root token
 * is lost, a quorum of key holders — unseal shares with Shamir, recovery shares with an auto seal — can
 * have the server mint a new one. One attempt at a time, identified by a nonce; shares arrive one per
 * call (from different people), and when the threshold is reached they are verified against the stored
 * key material before any token exists. The token never leaves in clear: it is XORed with a one-time
 * pad (the OTP) that only the operator who started the attempt holds, and the result base64-encoded
 * (`encoded_token`), so the key holders who submitted the last shares cannot read it.
 *
 * Wire encoding, as `sdk/helper/roottoken` does it and `bao operator generate-root -decode` undoes it:
 * the OTP is base62 with the token's own length (`hvs.` + 24 = 28 characters), the token bytes are XORed
 * with the OTP's bytes, and the result is encoded with unpadded standard base64 (Go's RawStdEncoding —
 * a padded value would fail the CLI's decode).
 *
 * PGP-encrypted tokens (`pgp_key`) are refused: there is no OpenPGP implementation here.
 */
import { randomUUID, timingSafeEqual } from "node:crypto";
import { ArcaError } from "../common/errors.js";
import { randomBase62 } from "../common/ids.js";
import { TOKEN_PREFIX } from "./tokens/token-store.js";
import { zero } from "../crypto/aead.js";

/** Root tokens are `hvs.` + 24 base62 characters; the OTP must be exactly as long to XOR them. */
export const OTP_LENGTH = TOKEN_PREFIX.length + 24;

/** Shares of a 16..32-byte key plus the x-coordinate byte (OpenBao's BarrierKeyLength + ShareOverhead). */
const MIN_SHARE_BYTES = 16;
const MAX_SHARE_BYTES = 33;

/** What root generation needs from the core, and nothing more. */
export interface RootGenerationDeps {
  /** Shares the operators must present (unseal threshold, or recovery threshold with an auto seal); undefined before init. */
  operatorThreshold(): number | undefined;
  /** Resolves when the shares combine to the operators' key of this server; rejects with a 400 otherwise. */
  verifyOperatorShares(shares: Buffer[]): Promise<void>;
  /** Creates a new root token (policy root, no TTL). */
  createRootToken(): Promise<string>;
}

export interface RootGenerationStatus {
  started: boolean;
  nonce: string;
  progress: number;
  required: number;
  complete: boolean;
  /** The new token XORed with the OTP, unpadded base64; set only by the call that completes the attempt. */
  encodedToken: string;
  pgpFingerprint: string;
  /** The OTP the server generated when the caller gave none; only in the answer to the start call. */
  otp: string;
  /** 0 in update answers, as OpenBao (which fills it only when reporting the attempt). */
  otpLength: number;
}

interface Attempt {
  nonce: string;
  otp: Buffer;
  shares: Buffer[];
}

/**
 * A submitted share: hex when it is valid hex of a plausible share length, otherwise standard base64 — the
 * length window matters, since a base64 share can also be valid hex (OpenBao's sys/generate-root/update).
 */
export function decodeShare(key: string): Buffer {
  if (/^[0-9a-fA-F]*$/.test(key) && key.length % 2 === 0) {
    const bytes = Buffer.from(key, "hex");
    if (bytes.length >= MIN_SHARE_BYTES && bytes.length <= MAX_SHARE_BYTES) return bytes;
    bytes.fill(0);
  }
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(key) && key.length % 4 === 0) return Buffer.from(key, "base64");
  throw new ArcaError("invalid_request", "'key' must be a valid hex or base64 string");
}

/** XORs the token with the OTP (equal lengths) and encodes the result as unpadded standard base64. */
export function encodeRootToken(token: string, otp: string | Buffer): string {
  const t = Buffer.from(token, "utf8");
  const o = typeof otp === "string" ? Buffer.from(otp, "utf8") : otp;
  if (t.length !== o.length) throw new Error(`token and otp lengths differ (${t.length} != ${o.length})`);
  const out = Buffer.alloc(t.length);
  for (let i = 0; i < t.length; i++) out[i] = t[i] ^ o[i];
  return out.toString("base64").replace(/=+$/, "");
}

/** The inverse of encodeRootToken (tests, and any tool of ours that needs `-decode`). */
export function decodeRootToken(encoded: string, otp: string): string {
  const e = Buffer.from(encoded, "base64");
  const o = Buffer.from(otp, "utf8");
  if (e.length !== o.length) throw new Error(`encoded token and otp lengths differ (${e.length} != ${o.length})`);
  for (let i = 0; i < e.length; i++) e[i] ^= o[i];
  return e.toString("utf8");
}

export class RootGeneration {
  private attempt: Attempt | undefined;

  constructor(private readonly deps: RootGenerationDeps) {}

  private required(): number {
    const t = this.deps.operatorThreshold();
    if (t === undefined) throw new ArcaError("invalid_request", "server is not yet initialized");
    return t;
  }

  /** The attempt in progress (GET attempt); `otp` is set only right after a start that generated it. */
  status(otp = ""): RootGenerationStatus {
    const required = this.required();
    const a = this.attempt;
    return {
      started: a !== undefined,
      nonce: a?.nonce ?? "",
      progress: a?.shares.length ?? 0,
      required,
      complete: false,
      encodedToken: "",
      pgpFingerprint: "",
      otp,
      otpLength: OTP_LENGTH,
    };
  }

  /**
   * Starts an attempt. Without `otp` (and without `pgp_key`) the server generates one and returns it once,
   * as OpenBao ≥ 1.10 does; a given OTP must be as long as a token.
   */
  start(opts: { otp?: string; pgpKey?: string }): RootGenerationStatus {
    const required = this.required();
    if (opts.pgpKey) {
      throw new ArcaError("invalid_request", "pgp_key is not supported by this server: start the attempt with an otp, or with neither to have one generated");
    }
    if (required === 0) {
      throw new ArcaError("invalid_request", "no recovery key was generated at init: there are no shares to authorize root generation");
    }
    const generated = opts.otp ? "" : randomBase62(OTP_LENGTH);
    const otp = Buffer.from(opts.otp || generated, "utf8");
    if (otp.length !== OTP_LENGTH) throw new ArcaError("invalid_request", "OTP string is wrong length");
    if (this.attempt) throw new ArcaError("invalid_request", "root generation already in progress");
    this.attempt = { nonce: randomUUID(), otp, shares: [] };
    return this.status(generated);
  }

  /** Cancels the attempt and forgets its shares (DELETE attempt; also on seal). */
  cancel(): void {
    if (!this.attempt) return;
    zero(this.attempt.otp, ...this.attempt.shares);
    this.attempt = undefined;
  }

  /**
   * Adds one share. Below the threshold it reports progress; at the threshold the shares are verified
   * (a wrong set resets progress but keeps the attempt, as OpenBao) and a new root token is returned
   * encoded with the attempt's OTP, which ends the attempt.
   */
  async update(share: Buffer, nonce: string): Promise<RootGenerationStatus> {
    if (share.length < MIN_SHARE_BYTES) throw new ArcaError("invalid_request", `key is shorter than minimum ${MIN_SHARE_BYTES} bytes`);
    if (share.length > MAX_SHARE_BYTES) throw new ArcaError("invalid_request", `key is longer than maximum ${MAX_SHARE_BYTES} bytes`);
    const required = this.required();
    const a = this.attempt;
    if (!a) throw new ArcaError("invalid_request", "no root generation in progress");
    if (!sameString(nonce, a.nonce)) {
      throw new ArcaError("invalid_request", `incorrect nonce supplied; nonce for this root generation operation is "${a.nonce}"`);
    }
    if (a.shares.some((s) => s.equals(share))) {
      throw new ArcaError("invalid_request", "given key has already been provided during this generation operation");
    }
    a.shares.push(Buffer.from(share));
    const progress = a.shares.length;
    const base = { started: true, nonce: a.nonce, progress, required, pgpFingerprint: "", otp: "", otpLength: 0 };
    if (progress < required) return { ...base, complete: false, encodedToken: "" };
    // Taken before the first await, so a concurrent update cannot reuse or add to these shares.
    const shares = a.shares;
    a.shares = [];
    try {
      await this.deps.verifyOperatorShares(shares);
    } catch (err) {
      if (err instanceof ArcaError && err.kind === "invalid_request") {
        throw new ArcaError("invalid_request", `root generation aborted: ${err.message}`, { cause: err });
      }
      throw err;
    } finally {
      zero(...shares);
    }
    // A cancel (or cancel and restart) while the shares were being verified: that attempt is over.
    if (this.attempt !== a) throw new ArcaError("invalid_request", "root generation was cancelled");
    this.attempt = undefined;
    try {
      const token = await this.deps.createRootToken();
      return { ...base, complete: true, encodedToken: encodeRootToken(token, a.otp) };
    } finally {
      zero(a.otp);
    }
  }
}

/** Constant-time for equal lengths: the nonce is not secret (GET shows it), but it costs nothing. */
function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** OpenBao's GenerateRootStatusResponse; `encoded_root_token` is the legacy name of `encoded_token`. */
export function generateRootWire(s: RootGenerationStatus): Record<string, unknown> {
  return {
    nonce: s.nonce,
    started: s.started,
    progress: s.progress,
    required: s.required,
    complete: s.complete,
    encoded_token: s.encodedToken,
    encoded_root_token: s.encodedToken,
    pgp_fingerprint: s.pgpFingerprint,
    otp: s.otp,
    otp_length: s.otpLength,
  };
}
