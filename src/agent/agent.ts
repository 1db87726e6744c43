// Composition of `arca agent`: the HSM registry and key manager for the declared tokens, the API client,
// auto-auth, and one renewal loop per certificate block. The CLI (src/cli/agent-command.ts) parses flags
// and handles signals; tests run these functions in-process.
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { ArcaClient } from "../cli/client.js";
import { HsmRegistry } from "../hsm/hsm-registry.js";
import { HsmPinError } from "../hsm/errors.js";
import { KeyConfigError } from "../hsm/key-errors.js";
import { Pkcs11KeyManager } from "../hsm/pkcs11-key-manager.js";
import type { Logger } from "../server/log.js";
import { AgentAuthError, AutoAuth, clientConfig } from "./auto-auth.js";
import type { AgentConfig, CertificateConfig } from "./config.js";
import { CertificateRefusedError, currentCertificate, issueCertificate, type CertificateState, type IssueDeps } from "./issue.js";
import { backoffDelay, DEFAULT_BACKOFF, renewalTime, type Backoff } from "./schedule.js";
import { ServiceKeyError } from "./service-key.js";

export interface AgentOptions {
  logger: Logger;
  /** Issue (or keep) every certificate once and return; throws when any failed. */
  once?: boolean;
  /** Stops the daemon; runAgent resolves once every loop has stopped. */
  signal?: AbortSignal;
  backoff?: Backoff;
  /** Per exec command (default 60 s). */
  execTimeoutMs?: number;
}

/** One or more certificates could not be issued in -once mode; the message is the first failure's. */
export class AgentRunError extends Error {
  override readonly name = "AgentRunError";
}

/** Longest single timer wait (setTimeout's limit is ~24.8 days); longer waits are taken in steps. */
const MAX_WAIT_MS = 24 * 3600 * 1000;

export async function runAgent(config: AgentConfig, opts: AgentOptions): Promise<void> {
  const registry = new HsmRegistry(config.hsms.map((h) => ({ ...h, reconnect: { attempts: 1 } })));
  try {
    const deps: IssueDeps = {
      keys: new Pkcs11KeyManager({ tokens: registry }),
      client: new ArcaClient(clientConfig(config.vault)),
      auth: new AutoAuth(config.vault, config.autoAuth),
    };
    if (opts.once) return await runOnce(config, deps, opts.logger);
    const signal = opts.signal ?? new AbortController().signal;
    await Promise.all(config.certificates.map((c) => renewLoop(c, deps, { ...opts, signal })));
  } finally {
    registry.close();
  }
}

async function runOnce(config: AgentConfig, deps: IssueDeps, logger: Logger): Promise<void> {
  const failures: string[] = [];
  for (const cert of config.certificates) {
    try {
      await ensureCertificate(cert, deps, logger);
    } catch (err) {
      failures.push(forCertificate(cert, err));
      // Nothing else can work without a login.
      if (err instanceof AgentAuthError) break;
    }
  }
  // One line for all failures: what an init container's log shows is the error line and the exit code.
  if (failures.length > 0) throw new AgentRunError(failures.join("; "));
}

/** Keeps a still-good certificate on disk, issues one otherwise. Returns the state and whether files changed. */
async function ensureCertificate(cert: CertificateConfig, deps: IssueDeps, logger: Logger): Promise<{ state: CertificateState; written: boolean }> {
  const current = await currentCertificate(deps.keys, cert);
  if (current && Date.now() < renewalTime(current, cert.renewBeforeSeconds)) {
    logger.info({ certificate: cert.name, serial: current.serial, notAfter: current.notAfter.toISOString() }, "certificate on disk is still good: kept");
    return { state: current, written: false };
  }
  const issued = await issueCertificate(deps, cert);
  if (issued.keyCreated) logger.info({ certificate: cert.name, keyUri: cert.key }, "key pair generated in the token (sensitive, not extractable)");
  logger.info({ certificate: cert.name, serial: issued.serial, notAfter: issued.notAfter.toISOString(), file: cert.certFile }, "certificate issued");
  return { state: issued, written: true };
}

async function renewLoop(cert: CertificateConfig, deps: IssueDeps, opts: AgentOptions & { signal: AbortSignal }): Promise<void> {
  const { logger, signal } = opts;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  let state: CertificateState | undefined;
  let failures = 0;
  while (!signal.aborted) {
    if (state === undefined || Date.now() >= renewalTime(state, cert.renewBeforeSeconds)) {
      try {
        const r = await ensureCertificate(cert, deps, logger);
        state = r.state;
        failures = 0;
        if (r.written && cert.exec) await runExec(cert, opts);
      } catch (err) {
        failures++;
        const delay = backoffDelay(failures, backoff);
        logger.error(
          { certificate: cert.name, error: forCertificate(cert, err), failures, retryInMs: Math.round(delay), ...(configProblem(err) ? { hint: "check the configuration" } : {}) },
          "certificate renewal failed",
        );
        await wait(delay, signal);
        continue;
      }
    }
    await wait(Math.min(MAX_WAIT_MS, Math.max(0, renewalTime(state, cert.renewBeforeSeconds) - Date.now())), signal);
  }
}

/** Errors a retry will not fix until someone changes the config, the role or the token. */
function configProblem(err: unknown): boolean {
  return err instanceof CertificateRefusedError || err instanceof ServiceKeyError || err instanceof KeyConfigError || err instanceof AgentAuthError || err instanceof HsmPinError;
}

function runExec(cert: CertificateConfig, opts: AgentOptions): Promise<void> {
  const [file, ...args] = cert.exec ?? [];
  return new Promise((resolve) => {
    execFile(file, args, { timeout: opts.execTimeoutMs ?? 60_000 }, (err, _stdout, stderr) => {
      if (err) opts.logger.warn({ certificate: cert.name, command: file, error: oneLine(err), stderr: stderr.slice(0, 500) }, "exec after renewal failed");
      else opts.logger.info({ certificate: cert.name, command: file }, "exec after renewal done");
      resolve();
    });
  });
}

async function wait(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    // aborted: the loop checks the signal
  }
}

/** The error as one line that names the certificate block (HSM and transport errors do not). */
function forCertificate(cert: CertificateConfig, err: unknown): string {
  const line = oneLine(err);
  return line.startsWith(`certificate "${cert.name}"`) || err instanceof AgentAuthError ? line : `certificate "${cert.name}": ${line}`;
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, " ");
}
