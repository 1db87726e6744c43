/**
 * Audit checkpoints: the hash chain shows a line altered or removed in the middle of a log, but not lines cut
 * from its end or its start. So each device's chain head (sequence number and hash of the last line, and the
 * sequence number its log starts at) is recorded where someone holding only the log file cannot rewrite it:
 * in the barrier, and signed by an HSM key when the server has one. `arca audit verify -checkpoint` checks
 * a log against it.
 *
 * Recorded at most once a second while lines are written (so a few lines written just before an attack may
 * go unnoticed), when a device is disabled or the server seals, and whenever a checkpoint is read.
 *
 * Layout (barrier): `core/audit-checkpoint/<device path>` → Checkpoint.
 */
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { getJson, putJson } from "../view.js";
import type { Signer } from "../../hsm/key-manager.js";
import type { KeyValueStore } from "../../storage/storage.js";
import type { ChainHead } from "./devices.js";

export interface CheckpointSignature {
  /** Always ECDSA P-256 over SHA-256 of the canonical body (DER signature). */
  algorithm: "ecdsa-p256-sha256";
  /** The signing key's public half (SPKI PEM), and its SHA-256 fingerprint (hex) to compare with the server's. */
  public_key: string;
  key_fingerprint: string;
  value: string;
}

export interface Checkpoint {
  device: string;
  seq: number;
  hash: string;
  first_seq: number;
  time: string;
  signature?: CheckpointSignature;
}

const PREFIX = "core/audit-checkpoint/";
const FLUSH_MS = 1000;

/** The signed part of a checkpoint, in a fixed order. */
export function checkpointBody(c: Pick<Checkpoint, "device" | "seq" | "hash" | "first_seq" | "time">): Buffer {
  return Buffer.from(JSON.stringify({ device: c.device, seq: c.seq, hash: c.hash, first_seq: c.first_seq, time: c.time }));
}

export function keyFingerprint(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

/** True when the checkpoint's signature verifies with the public key it carries. */
export function signatureValid(c: Checkpoint): boolean {
  if (!c.signature) return false;
  try {
    const key = createPublicKey(c.signature.public_key);
    return keyFingerprint(key) === c.signature.key_fingerprint && verify("sha256", checkpointBody(c), key, Buffer.from(c.signature.value, "base64"));
  } catch {
    return false;
  }
}

export class CheckpointRecorder {
  private readonly dirty = new Map<string, () => ChainHead>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: KeyValueStore,
    /** The HSM key checkpoints are signed with, when the server has an HSM. */
    private readonly signer: () => Promise<Signer | undefined>,
  ) {}

  /** Notes that `device` wrote a line; its head is recorded within a second. */
  touched(device: string, head: () => ChainHead): void {
    this.dirty.set(device, head);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined); // retried at the next line, the next read or the seal
    }, FLUSH_MS);
    this.timer.unref();
  }

  /** Records every pending head now (one flush at a time, in order). */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      const pending = [...this.dirty];
      this.dirty.clear();
      for (const [device, head] of pending) {
        try {
          await this.record(device, head());
        } catch (err) {
          if (!this.dirty.has(device)) this.dirty.set(device, head);
          throw err;
        }
      }
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async read(device: string): Promise<Checkpoint | undefined> {
    await this.flush();
    return getJson<Checkpoint>(this.store, PREFIX + device);
  }

  async forget(device: string): Promise<void> {
    this.dirty.delete(device);
    await this.store.delete(PREFIX + device);
  }

  /** Stops the timer after a last flush (seal, shutdown). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  private async record(device: string, head: ChainHead): Promise<void> {
    const c: Checkpoint = { device, seq: head.seq, hash: head.prev, first_seq: head.firstSeq, time: new Date().toISOString() };
    const signer = await this.signer();
    if (signer) {
      const value = await signer.sign(checkpointBody(c), { hash: "sha256" });
      c.signature = {
        algorithm: "ecdsa-p256-sha256",
        public_key: signer.publicKey.export({ type: "spki", format: "pem" }).toString(),
        key_fingerprint: keyFingerprint(signer.publicKey),
        value: value.toString("base64"),
      };
    }
    await putJson(this.store, PREFIX + device, c);
  }
}
