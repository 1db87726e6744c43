/**
 * Tamper evidence for audit logs, beyond OpenBao: every line carries its sequence number and the
 * SHA-256 of the line before it, so a removed, inserted or altered line breaks the chain at the next
 * line. (Someone able to rewrite the whole file could rebuild the chain; shipping lines to a socket
 * device on another host is the defence against that.)
 */
import { createHash } from "node:crypto";

export interface ChainState {
  seq: number;
  /** SHA-256 (hex) of the last line written, "" before the first. */
  prev: string;
}

export const GENESIS: ChainState = { seq: 0, prev: "" };

export function lineHash(line: string): string {
  return createHash("sha256").update(line).digest("hex");
}

/** Serialises an entry as the next line of the chain (without the newline) and the state after it. */
export function chainLine(state: ChainState, entry: Record<string, unknown>): { line: string; next: ChainState } {
  const line = JSON.stringify({ ...entry, seq: state.seq + 1, prev_hash: state.prev });
  return { line, next: { seq: state.seq + 1, prev: lineHash(line) } };
}

/** The chain state after the last complete line of an existing log (to continue it after a restart). */
export function stateAfter(lastLine: string | undefined): ChainState {
  if (!lastLine) return GENESIS;
  try {
    const parsed = JSON.parse(lastLine) as { seq?: unknown };
    return { seq: typeof parsed.seq === "number" ? parsed.seq : 0, prev: lineHash(lastLine) };
  } catch {
    return { seq: 0, prev: lineHash(lastLine) };
  }
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  /** 1-based line number of the first entry that does not follow its predecessor. */
  brokenLine?: number;
  reason?: string;
}

/** Checks a whole log. The first line may start anywhere (a rotated log); every later one must follow. */
export function verifyChain(text: string): VerifyResult {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let prev: { seq: number; hash: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let entry: { seq?: unknown; prev_hash?: unknown };
    try {
      entry = JSON.parse(lines[i]) as typeof entry;
    } catch {
      return { ok: false, entries: i, brokenLine: lineNo, reason: "not a JSON audit entry (altered or truncated)" };
    }
    if (typeof entry.seq !== "number" || typeof entry.prev_hash !== "string") {
      return { ok: false, entries: i, brokenLine: lineNo, reason: "entry has no seq/prev_hash chain fields" };
    }
    if (prev) {
      if (entry.seq !== prev.seq + 1) {
        return { ok: false, entries: i, brokenLine: lineNo, reason: `sequence jumps from ${prev.seq} to ${entry.seq}: entries were removed or inserted` };
      }
      if (entry.prev_hash !== prev.hash) {
        return { ok: false, entries: i, brokenLine: lineNo, reason: `prev_hash does not match line ${lineNo - 1}: that line was altered or a line was removed` };
      }
    } else if (entry.seq === 1 && entry.prev_hash !== "") {
      return { ok: false, entries: i, brokenLine: lineNo, reason: "first entry of a log claims a predecessor" };
    }
    prev = { seq: entry.seq, hash: lineHash(lines[i]) };
  }
  return { ok: true, entries: lines.length };
}

/** What a checkpoint asserts about a log (see checkpoints.ts): its last line then, and where it started. */
export interface CheckpointClaim {
  seq: number;
  hash: string;
  first_seq: number;
}

/**
 * Checks a log whose chain is intact against a checkpoint: lines cut from the end (the checkpoint's line is
 * missing or differs) or from the start (the log begins after the device's first line) are reported.
 */
export function verifyAgainstCheckpoint(text: string, cp: CheckpointClaim): VerifyResult {
  const chain = verifyChain(text);
  if (!chain.ok) return chain;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const seqOf = (line: string): number => (JSON.parse(line) as { seq: number }).seq;
  const first = lines.length > 0 ? seqOf(lines[0]) : cp.first_seq;
  const last = lines.length > 0 ? seqOf(lines[lines.length - 1]) : 0;
  if (first > cp.first_seq) {
    return { ok: false, entries: lines.length, brokenLine: 1, reason: `the log starts at seq ${first} but the device's log started at seq ${cp.first_seq}: lines were removed from the start` };
  }
  if (cp.seq === 0) return chain;
  if (last < cp.seq) {
    return { ok: false, entries: lines.length, brokenLine: lines.length, reason: `the log ends at seq ${last} but the checkpoint records seq ${cp.seq}: lines were removed from the end` };
  }
  const at = cp.seq - first;
  if (at < 0 || at >= lines.length || lineHash(lines[at]) !== cp.hash) {
    return { ok: false, entries: lines.length, brokenLine: at + 1, reason: `the line with seq ${cp.seq} is not the one the checkpoint records` };
  }
  return chain;
}
