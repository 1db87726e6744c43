/**
 * Shamir secret sharing over GF(2^8) through the audited `shamir-secret-sharing` library. A share is
 * the secret's length plus one byte (the x-coordinate, last), the same layout as OpenBao's shares.
 * Combining fewer shares than the threshold yields garbage without an error, so callers must verify the
 * result (the seal does: the combined key must open an authenticated ciphertext).
 */
import { combine, split } from "shamir-secret-sharing";

export async function splitSecret(secret: Buffer, shares: number, threshold: number): Promise<Buffer[]> {
  if (shares === 1 && threshold === 1) return [Buffer.concat([secret, Buffer.from([1])])];
  const parts = await split(new Uint8Array(secret), shares, threshold);
  return parts.map((p) => Buffer.from(p));
}

export async function combineShares(shares: Buffer[]): Promise<Buffer> {
  if (shares.length === 1) return Buffer.from(shares[0].subarray(0, shares[0].length - 1));
  return Buffer.from(await combine(shares.map((s) => new Uint8Array(s))));
}
