// Composition for the two unsealer commands: builds the HSM registry, key manager, share source and HTTP
// client from an UnsealerConfig. The CLI (src/cli/unsealer-command.ts) only parses flags and handles
// signals; tests run these functions in-process.
import { readFile } from "node:fs/promises";
import { HsmRegistry } from "../hsm/hsm-registry.js";
import { Pkcs11KeyManager } from "../hsm/pkcs11-key-manager.js";
import type { Logger } from "../server/log.js";
import { UnsealerConfigError, type UnsealerConfig } from "./config.js";
import { NodeHttpClient } from "./http-client.js";
import { HsmOperationError } from "../hsm/errors.js";
import { KeyUnsupportedError, KeyUsageError } from "../hsm/key-errors.js";
import { ensureShareKey, openSealedShare, sealShare, SealedShareError, writeSealedShareFile, type SealedShare } from "./sealed-share.js";
import { HsmShareSource } from "./share-source.js";
import { Unsealer } from "./unsealer.js";

export interface SealShareOptions {
  /** Which share block (0-based) to seal into; required when the config has several. */
  index?: number;
  /** Replace an existing sealed file. */
  force?: boolean;
}

export interface SealShareResult {
  file: string;
  keyUri: string;
  keyCreated: boolean;
}

/**
 * Seals one share (raw bytes, wiped here whatever happens) under the configured HSM key and writes the
 * sealed file. The key is created when missing; the result is opened once more in the HSM and compared
 * before the file is written, so a file on disk is known to open.
 */
export async function sealShareWithConfig(config: UnsealerConfig, share: Buffer, opts: SealShareOptions = {}): Promise<SealShareResult> {
  const registry = new HsmRegistry(config.hsms);
  try {
    if (opts.index === undefined && config.shares.length > 1) {
      throw new SealedShareError(`the config has ${config.shares.length} share blocks: say which one with -share=N (1–${config.shares.length})`);
    }
    const index = opts.index ?? 0;
    const target = config.shares[index];
    if (!target) throw new SealedShareError(`there is no share block #${index + 1} (the config has ${config.shares.length})`);
    const km = new Pkcs11KeyManager({ tokens: registry });
    let keyCreated: boolean;
    let sealed: SealedShare;
    try {
      keyCreated = await ensureShareKey(km, registry, target);
      sealed = await sealShare(km, target, share);
    } catch (err) {
      throw target.algorithm === "aes-256-gcm" ? withGcmHint(err) : err;
    }
    const check = await openSealedShare(km, sealed, target);
    const same = check.equals(share);
    check.fill(0);
    if (!same) throw new SealedShareError("the HSM did not give the share back unchanged: nothing written");
    await writeSealedShareFile(target.file, sealed, { force: opts.force });
    return { file: target.file, keyUri: sealed.keyUri, keyCreated };
  } finally {
    share.fill(0);
    registry.close();
  }
}

/**
 * A token that cannot do AES-GCM fails with a bare CKR code (a TPM through tpm2-pkcs11 refuses the AES key
 * template at C_GenerateKey, or CKM_AES_GCM at C_EncryptInit): say which setting fixes it. PIN, missing
 * key and unreachable token errors pass through unchanged.
 */
function withGcmHint(err: unknown): unknown {
  if (!(err instanceof KeyUnsupportedError || err instanceof KeyUsageError || err instanceof HsmOperationError)) return err;
  return new SealedShareError(
    `${err.message}: this token cannot seal with AES-256-GCM; a TPM (tpm2-pkcs11 has no CKM_AES_GCM) needs algorithm = "rsa-oaep-sha256" in the share block (docs/unsealer.md)`,
  );
}

export interface DaemonOptions {
  logger: Logger;
  /** Aborting stops the daemon; runDaemon resolves once it has stopped. */
  signal: AbortSignal;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
}

/** Runs the unsealer until `signal` aborts. Throws at start-up when the shares cannot be opened. */
export async function runDaemon(config: UnsealerConfig, opts: DaemonOptions): Promise<void> {
  const { logger } = opts;
  const registry = new HsmRegistry(config.hsms);
  let client: NodeHttpClient | undefined;
  try {
    const km = new Pkcs11KeyManager({ tokens: registry });
    const shares = await HsmShareSource.load(km, config.shares);
    await shares.selfTest();
    logger.info({ shares: shares.count }, "sealed shares open in the HSM (self-test passed)");

    let ca: Buffer | undefined;
    if (config.caCert !== undefined) {
      try {
        ca = await readFile(config.caCert);
      } catch (err) {
        throw new UnsealerConfigError(`cannot read ca_cert ${config.caCert} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
      }
    }
    if (config.tlsSkipVerify) logger.warn({}, "tls_skip_verify is set: server certificates are NOT verified (development only)");
    for (const s of config.servers) {
      if (s.startsWith("http:")) logger.warn({ server: s }, "plain HTTP: unseal shares cross the network unencrypted");
    }
    client = new NodeHttpClient({ ca, tlsSkipVerify: config.tlsSkipVerify, timeoutMs: opts.requestTimeoutMs });

    const unsealer = new Unsealer({
      servers: config.servers,
      client,
      shares,
      logger,
      intervalMs: config.intervalMs,
      backoffMaxMs: config.backoffMaxMs,
    });
    if (opts.signal.aborted) return;
    const stopped = new Promise<void>((resolve) => opts.signal.addEventListener("abort", () => resolve(), { once: true }));
    unsealer.start();
    await stopped;
    await unsealer.stop();
  } finally {
    client?.close();
    registry.close();
  }
}
