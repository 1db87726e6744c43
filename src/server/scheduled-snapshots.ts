/**
 * Scheduled storage snapshots (the `snapshots` config block), run as a background job: when the newest
 * snapshot in the directory is older than the interval, a new one is written (to `.partial`, renamed once
 * complete and verified by its own checksum) and all but the newest `retain` are removed.
 *
 * The schedule lives in the file names (arca-<UTC time>.snap), not in memory, so a restart or the node
 * that takes background work over after a failover continues it instead of starting again.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { Core } from "../core/core.js";
import { snapshotStream } from "../core/storage-snapshot.js";
import type { Logger } from "./log.js";

export interface SnapshotSchedule {
  directory: string;
  /** Seconds between snapshots. */
  intervalSeconds: number;
  /** How many snapshots to keep (the newest). */
  retain: number;
}

const NAME = /^arca-(\d{8}T\d{6}(?:\d{3})?Z)\.snap$/;

/** 2026-12-07T01:02:03.456Z → 20261207T010203456Z: sortable, and safe in any file system. */
function stamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, "");
}

function parseStamp(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})?Z$/.exec(s);
  if (!m) return NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7] ?? 0));
}

async function snapshotsIn(directory: string): Promise<Array<{ file: string; at: number }>> {
  const names = await readdir(directory);
  return names
    .map((file) => ({ file, at: parseStamp(NAME.exec(file)?.[1] ?? "") }))
    .filter((s) => !Number.isNaN(s.at))
    .sort((a, b) => a.at - b.at);
}

/** Takes a snapshot when one is due and prunes old ones; returns the new file's name, if any. */
export async function runSnapshotSchedule(core: Core, schedule: SnapshotSchedule, now: Date, logger: Logger): Promise<string | undefined> {
  await mkdir(schedule.directory, { recursive: true, mode: 0o700 });
  const existing = await snapshotsIn(schedule.directory);
  const newest = existing[existing.length - 1];
  if (newest && now.getTime() - newest.at < schedule.intervalSeconds * 1000) return undefined;
  const file = `arca-${stamp(now)}.snap`;
  const final = join(schedule.directory, file);
  const partial = `${final}.partial`;
  try {
    await pipeline(Readable.from(snapshotStream(core)), createWriteStream(partial, { mode: 0o600 }));
    await rename(partial, final);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  const all = [...existing, { file, at: now.getTime() }];
  for (const old of all.slice(0, Math.max(0, all.length - schedule.retain))) await rm(join(schedule.directory, old.file), { force: true });
  logger.info({ file, kept: Math.min(all.length, schedule.retain) }, "storage snapshot written");
  return file;
}
