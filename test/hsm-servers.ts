/**
 * Test helpers for servers sealed by SoftHSM tokens: a config with `seal` blocks on a fixed SQLite file, so a
 * test can stop the server and start another on the same storage (a restart), plus a byte scanner for the
 * SQLite files.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { startServer, type RunningServer } from "../src/server/server.js";
import type { SealConfig, ServerConfig } from "../src/server/config.js";
import type { HsmBlockConfig } from "../src/hsm/hsm-config.js";
import { quietLogger, testServerConfig } from "./servers.js";
import type { SoftHsmToken } from "./softhsm.js";

/** A `seal "pkcs11"` block in OpenBao's own fields for a SoftHSM token, with generate_key. */
export function pkcs11SealBlock(token: SoftHsmToken, extra: Record<string, string | boolean> = {}, disabled = false): SealConfig {
  return {
    type: "pkcs11",
    disabled,
    params: { lib: token.libPath, token_label: token.label, pin: token.pin, key_label: "arca-seal", generate_key: true, ...extra },
  };
}

export function sealedConfig(dir: string, seals: SealConfig[], hsms: HsmBlockConfig[] = []): ServerConfig {
  return testServerConfig({ type: "sqlite", path: join(dir, "arca.db") }, {}, { seals, hsms });
}

/** Starts a server with fast HSM reconnects and auto-unseal retries (tests should not wait 30 s). */
export function startSealed(config: ServerConfig, retryBaseMs = 50): Promise<RunningServer> {
  return startServer(config, {
    logger: quietLogger,
    sealTiming: { retryBaseMs, retryMaxMs: 500, healthIntervalMs: 0 },
    hsmReconnect: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 },
  });
}

/** Which of `needles` occur in the SQLite database, its WAL or its shared-memory file. */
export function findInSqliteFiles(dbPath: string, needles: Record<string, Buffer>): string[] {
  const files = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
  return Object.entries(needles)
    .filter(([, needle]) => files.some((bytes) => bytes.includes(needle)))
    .map(([name]) => name);
}

/** Polls until `check` passes or the time is up. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
