/**
 * `arca kms-plugin -socket PATH -system NAME [-mount keychain] [-address URL] [-token T]`: a Kubernetes KMS v2
 * plugin (gRPC on a unix socket) whose key encryption keys are a keychain system's data keys in Arca. Runs
 * until SIGINT/SIGTERM. The token is best given in ARCA_TOKEN (or the token file): `-token` shows in `ps`.
 */
import { parseCommand, withHelp, EXIT_OK, UsageError, parseDurationSeconds } from "./context.js";
import { ArcaClient } from "./client.js";
import type { CliIo } from "./io.js";
import { ArcaSystemDataKeys } from "../kms-plugin/data-key-source.js";
import { startKmsGrpcServer } from "../kms-plugin/grpc-server.js";
import { KmsService } from "../kms-plugin/kms-service.js";

const USAGE = `Usage: arca kms-plugin -socket=PATH -system=NAME [options]

Serves the Kubernetes KMS v2 API (k8s.io/kms, Status/Encrypt/Decrypt) on the unix socket PATH for a
Kubernetes or IronCore API server's EncryptionConfiguration (kms apiVersion: v2, endpoint: unix://PATH).
Payloads are sealed locally with AES-256-GCM under a data key of the keychain system NAME; the data key
travels wrapped inside each ciphertext and is unwrapped by Arca on Decrypt.

Options:
  -socket=PATH              unix socket to listen on (created mode 0600; a stale one is replaced)
  -system=NAME              keychain system whose data keys are used
  -mount=PATH               keychain mount (default "keychain")
  -token=TOKEN              Arca token (prefer ARCA_TOKEN: arguments show in ps)
  -refresh-interval=DUR     age after which a new data key is used (default 1h)
  -cache-size=N             unwrapped data keys kept for Decrypt (default 1000)
  -cache-ttl=DUR            how long one stays cached (default 5m): bounds reads after a revoke
  -address, -namespace, -ca-cert, … as for every command (ARCA_ADDR, ARCA_NAMESPACE, …)
`;

const NAME = /^[A-Za-z0-9_.-]+$/;

export interface KmsPluginCommandOptions {
  /** Stops the plugin (tests); by default SIGINT/SIGTERM do. */
  signal?: AbortSignal;
  /** Told the socket is listening (tests). */
  onListening?: () => void;
}

export function kmsPluginCommand(argv: string[], io: CliIo, opts: KmsPluginCommandOptions = {}): Promise<number> {
  return withHelp(USAGE, argv, io, async () => {
    const ctx = parseCommand(argv, io, { value: ["socket", "system", "mount", "token", "refresh-interval", "cache-size", "cache-ttl"] });
    if (ctx.args.length > 0) throw new UsageError(`unexpected argument(s)\n${USAGE}`);
    const socket = ctx.flag("socket");
    const system = ctx.flag("system");
    if (!socket) throw new UsageError(`-socket is required\n${USAGE}`);
    if (!system || !NAME.test(system)) throw new UsageError("-system must name a keychain system (letters, digits, '.', '_', '-')");
    const mount = ctx.flag("mount") ?? "keychain";
    if (!/^[A-Za-z0-9_./-]+$/.test(mount) || mount.split("/").includes("..")) throw new UsageError("-mount must be a mount path");
    const cacheSize = ctx.flag("cache-size");
    if (cacheSize !== undefined && !/^[1-9]\d{0,6}$/.test(cacheSize)) throw new UsageError("-cache-size must be a whole number from 1 to 9999999");
    const seconds = (name: string, dflt: number) => {
      const v = ctx.flag(name);
      return v === undefined ? dflt : parseDurationSeconds(v, `-${name}`);
    };

    const base = ctx.client().config;
    const token = ctx.flag("token") ?? base.token;
    if (!token) throw new UsageError("no Arca token: set ARCA_TOKEN (or -token)");
    const client = new ArcaClient({ ...base, token });
    const service = new KmsService(new ArcaSystemDataKeys(client, mount, system), {
      refreshMs: seconds("refresh-interval", 3600) * 1000,
      cacheTtlMs: seconds("cache-ttl", 300) * 1000,
      cacheSize: cacheSize === undefined ? undefined : Number(cacheSize),
    });
    const server = await startKmsGrpcServer(service, socket);
    io.stderr(`arca kms-plugin: KMS v2 on unix://${socket} for system "${system}" at ${client.config.address} (mount ${mount})\n`);
    opts.onListening?.();
    await untilStopped(opts.signal);
    await server.close();
    service.forgetKeys();
    return EXIT_OK;
  });
}

function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.removeListener("SIGINT", stop);
      process.removeListener("SIGTERM", stop);
      signal?.removeEventListener("abort", stop);
      resolve();
    };
    if (signal?.aborted) return stop();
    signal?.addEventListener("abort", stop, { once: true });
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
