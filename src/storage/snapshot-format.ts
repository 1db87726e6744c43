/**
 * The storage snapshot file: every raw storage entry, as stored (barrier ciphertext, and the seal
 * entries that hold only wrapped root-key material), so a snapshot never contains a plaintext secret and
 * restores into any backend.
 *
 *   "ARCASNAP" ‖ u32 header length ‖ header (JSON, SnapshotHeader)
 *   then per entry:  0x01 ‖ u32 key length ‖ key (UTF-8) ‖ u32 value length ‖ value
 *   then the end:    0x00 ‖ u64 entry count ‖ SHA-256 of every byte before this trailer's hash
 *
 * All integers big endian. The trailer makes a truncated or altered file fail to decode; it is a checksum,
 * not a signature: what keeps a forged snapshot useless is the barrier (values authenticated with their
 * paths) and the seal (the root key is needed to unseal anything restored).
 */
import { createHash } from "node:crypto";
import { ArcaError } from "../common/errors.js";
import type { StorageEntry } from "./storage.js";

const MAGIC = Buffer.from("ARCASNAP");
const ENTRY = 0x01;
const END = 0x00;
export const SNAPSHOT_FORMAT = 1;
/** Output is gathered into chunks of about this size before it is handed on. */
const CHUNK = 64 * 1024;

export interface SnapshotHeader {
  format: number;
  created_at: string;
  /** The storage type the snapshot was taken from (informational: it restores into any). */
  storage_type: string;
  /** The seal type recorded in the snapshot's seal configuration (shamir, pkcs11, …). */
  seal_type?: string;
  cluster_id?: string;
}

export interface DecodedSnapshot {
  header: SnapshotHeader;
  entries: StorageEntry[];
  sha256: string;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Encodes a snapshot as a stream of chunks (memory use stays at about one chunk). */
export async function* encodeSnapshot(header: SnapshotHeader, entries: AsyncIterable<StorageEntry>): AsyncGenerator<Buffer> {
  const hash = createHash("sha256");
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const push = (b: Buffer): void => {
    hash.update(b);
    pending.push(b);
    pendingBytes += b.length;
  };
  const take = (): Buffer => {
    const out = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  const head = Buffer.from(JSON.stringify(header));
  push(MAGIC);
  push(u32(head.length));
  push(head);
  let count = 0n;
  for await (const { key, value } of entries) {
    const k = Buffer.from(key);
    push(Buffer.from([ENTRY]));
    push(u32(k.length));
    push(k);
    push(u32(value.length));
    push(value);
    count++;
    if (pendingBytes >= CHUNK) yield take();
  }
  const end = Buffer.alloc(9);
  end.writeUInt8(END, 0);
  end.writeBigUInt64BE(count, 1);
  push(end);
  pending.push(hash.digest());
  yield take();
}

const corrupt = (why: string): ArcaError => new ArcaError("invalid_request", `not a valid Arca snapshot: ${why}`);

/** Decodes and verifies a whole snapshot (checksum, entry count, structure). */
export function decodeSnapshot(bytes: Buffer): DecodedSnapshot {
  if (bytes.length < MAGIC.length + 4 + 9 + 32 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt("missing header");
  const bodyEnd = bytes.length - 32;
  const sha256 = createHash("sha256").update(bytes.subarray(0, bodyEnd)).digest();
  if (!sha256.equals(bytes.subarray(bodyEnd))) throw corrupt("checksum mismatch (truncated or altered)");
  let at = MAGIC.length;
  const need = (n: number): void => {
    if (at + n > bodyEnd) throw corrupt("truncated entry");
  };
  const readU32 = (): number => {
    need(4);
    const n = bytes.readUInt32BE(at);
    at += 4;
    return n;
  };
  const readBytes = (n: number): Buffer => {
    need(n);
    const b = bytes.subarray(at, at + n);
    at += n;
    return b;
  };
  let header: SnapshotHeader;
  try {
    header = JSON.parse(readBytes(readU32()).toString("utf8")) as SnapshotHeader;
  } catch (err) {
    throw err instanceof ArcaError ? err : corrupt("unreadable header");
  }
  if (typeof header !== "object" || header === null || header.format !== SNAPSHOT_FORMAT) throw corrupt(`unsupported format (this server reads format ${SNAPSHOT_FORMAT})`);
  const entries: StorageEntry[] = [];
  for (;;) {
    need(1);
    const tag = bytes[at++];
    if (tag === END) break;
    if (tag !== ENTRY) throw corrupt("unknown record");
    const key = readBytes(readU32()).toString("utf8");
    // Copied: the caller may keep entries longer than the request body they were cut from.
    const value = Buffer.from(readBytes(readU32()));
    entries.push({ key, value });
  }
  need(8);
  const count = bytes.readBigUInt64BE(at);
  at += 8;
  if (at !== bodyEnd || count !== BigInt(entries.length)) throw corrupt("entry count mismatch");
  return { header, entries, sha256: sha256.toString("hex") };
}

/** What `operator snapshot inspect` shows: the header and entry counts per top-level area, never values. */
export function summarizeSnapshot(s: DecodedSnapshot): Record<string, unknown> {
  // A Map: keys come from storage, and "__proto__" must stay a key like any other.
  const areas = new Map<string, number>();
  let valueBytes = 0;
  for (const { key, value } of s.entries) {
    const parts = key.split("/");
    const area = parts.length > 1 ? `${parts[0]}/${parts.length > 2 ? parts[1] + "/" : ""}` : parts[0];
    areas.set(area, (areas.get(area) ?? 0) + 1);
    valueBytes += value.length;
  }
  return { ...s.header, entries: s.entries.length, value_bytes: valueBytes, sha256: s.sha256, areas: Object.fromEntries(areas) };
}
