/**
 * Test helpers: real servers on ephemeral loopback ports, cleaned up by the caller's afterAll.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevServer, startServer, type RunningServer } from "../src/server/server.js";
import { createLogger } from "../src/server/log.js";
import { DEFAULT_MAX_REQUEST_SIZE, type ListenerConfig, type ServerConfig, type StorageConfig } from "../src/server/config.js";
import type { KeyValueReader } from "../src/storage/storage.js";

export const quietLogger = createLogger("error", () => undefined);

/** A dev server: initialised, unsealed, secret/ = KV v2. */
export async function devServer(): Promise<RunningServer> {
  return startDevServer({ listenAddress: "127.0.0.1:0", logger: quietLogger });
}

/**
 * A test server's config: the storage given, one listener on a loopback ephemeral port (plain http unless
 * `listener` says otherwise), quiet logs, no seals or HSMs unless `extra` gives them.
 */
export function testServerConfig(storage: StorageConfig, listener: Partial<ListenerConfig> = {}, extra: Partial<ServerConfig> = {}): ServerConfig {
  return {
    storage,
    listeners: [{ type: "tcp", address: "127.0.0.1:0", tlsDisable: true, maxRequestSize: DEFAULT_MAX_REQUEST_SIZE, ...listener }],
    ui: false,
    logLevel: "error",
    defaultLeaseTtl: 768 * 3600,
    maxLeaseTtl: 768 * 3600,
    seals: [],
    hsms: [],
    warnings: [],
    ...extra,
  };
}

/** A fresh, uninitialised server on its own SQLite file (or on the storage given). */
export async function freshServer(storage?: StorageConfig, logger = quietLogger): Promise<RunningServer & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "arca-test-"));
  const config = testServerConfig(storage ?? { type: "sqlite", path: join(dir, "arca.db") });
  const server = await startServer(config, { logger });
  return {
    ...server,
    dir,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiResult {
  status: number;
  body: Record<string, unknown> | undefined;
  headers: Headers;
}

/** One API call with fetch; the body is parsed when it is JSON. */
export async function api(base: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers["X-Vault-Token"] = opts.token;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["Content-Type"] ??= "application/json";
  }
  const res = await fetch(`${base}/v1/${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Every key below `prefix` of a store, recursively (for "nothing left behind" checks). */
export async function allStorageKeys(store: KeyValueReader, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of await store.list(prefix)) {
    if (name.endsWith("/")) out.push(...(await allStorageKeys(store, prefix + name)));
    else out.push(prefix + name);
  }
  return out;
}
