/**
 * Test helpers for suites that drive a real Core directly (no HTTP): a freshly initialised, unsealed
 * core over in-memory SQLite with the engines a suite needs, and an assertion on ArcaErrors.
 */
import { expect } from "vitest";
import { Core, type BackendFactory, type CoreBackendFactory } from "../src/core/core.js";
import { ArcaError } from "../src/common/errors.js";
import { createSystemBackend } from "../src/core/system/backend.js";
import { createTokenBackend } from "../src/core/tokens/token-backend.js";
import { SqliteStorage } from "../src/storage/sqlite.js";
import type { Operation, Response } from "../src/core/framework/request.js";

export interface TestCore {
  core: Core;
  storage: SqliteStorage;
  root: string;
}

/** sys/ and auth/token/ are always there; `engines` adds the suite's own. */
export async function initializedCore(engines: Record<string, BackendFactory> = {}): Promise<TestCore> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const core = new Core({
    storage,
    engines: new Map<string, BackendFactory>(Object.entries(engines)),
    coreBackends: new Map<string, CoreBackendFactory>([
      ["system", createSystemBackend],
      ["token", createTokenBackend],
    ]),
  });
  const { rootToken } = await core.initialize({ secretShares: 1, secretThreshold: 1 }, { keepUnsealed: true });
  return { core, storage, root: rootToken };
}

/** Awaits `p`, which must fail with an ArcaError of this status (and message, when given). */
export async function expectArcaError(p: Promise<unknown>, status: number, message?: string | RegExp): Promise<ArcaError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArcaError);
  const ae = err as ArcaError;
  expect(ae.status).toBe(status);
  if (message instanceof RegExp) expect(ae.message).toMatch(message);
  else if (message !== undefined) expect(ae.message).toBe(message);
  return ae;
}

/** One request through the core's pipeline, as `token` (the root token unless given). */
export function coreCall(t: TestCore, operation: Operation, path: string, data: Record<string, unknown> = {}, token: string = t.root): Promise<Response | undefined> {
  return t.core.handleRequest(t.core.newRequest({ operation, path, data, clientToken: token }));
}

/** A new token (made by root) carrying `policy`. */
export async function tokenWithPolicy(t: TestCore, policy: string): Promise<string> {
  const resp = await coreCall(t, "update", "auth/token/create", { policies: [policy] });
  if (!resp?.auth) throw new Error("no auth block");
  return resp.auth.clientToken;
}
