/** `arca server`: run the server from a config file, or `-dev` for the embedded development setup. */
import { parseArgs } from "./args.js";
import { loadServerConfig } from "../server/config.js";
import cluster from "node:cluster";
import { UsageError } from "./context.js";
import { startDevServer, startServer, type RunningServer } from "../server/server.js";
import { createLogger, parseLogLevel } from "../server/log.js";
import { parseWorkers, startPrimary, workersRefusal } from "../server/workers.js";

const BOOL = new Set(["dev"]);

export async function serverCommand(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, BOOL);
  let running: RunningServer;
  if (flags.get("dev") === "true") {
    running = await startDevServer({
      rootTokenId: flags.get("dev-root-token-id"),
      listenAddress: flags.get("dev-listen-address") ?? "127.0.0.1:8200",
      devHsm: flags.get("dev-hsm"),
    });
    const out = process.stdout;
    out.write(
      [
        "WARNING! dev mode is enabled! In this mode, Arca runs entirely on a throwaway embedded",
        "SQLite database, starts unsealed with a single unseal key and serves plain HTTP.",
        "",
        "You may need to set the following environment variables:",
        "",
        `    $ export VAULT_ADDR='${running.url}'`,
        "",
        "The unseal key and root token are displayed below in case you want to",
        "seal/unseal the server or re-authenticate.",
        "",
        running.recoveryKey ? `Recovery Key: ${running.recoveryKey} (the server auto-unseals with the HSM)` : `Unseal Key: ${running.unsealKey ?? ""}`,
        `Root Token: ${running.rootToken ?? ""}`,
        "",
        "Development mode should NOT be used in production installations!",
        "",
      ].join("\n"),
    );
  } else {
    const configPath = flags.get("config");
    if (!configPath) {
      process.stderr.write("arca server: -config=FILE or -dev is required\n");
      return 2;
    }
    const config = await loadServerConfig(configPath);
    const workers = parseWorkers(flags.get("workers"));
    if (typeof workers === "string") throw new UsageError(workers);
    const refusal = workersRefusal(config, workers);
    if (refusal) throw new UsageError(refusal);
    // The primary only forks and watches; its workers run this same command line and start a server each.
    if (workers > 1 && cluster.isPrimary) {
      const primary = startPrimary(workers, createLogger(parseLogLevel(config.logLevel)));
      await signalled();
      await primary.stop();
      return 0;
    }
    running = await startServer(config);
    for (const w of config.warnings) running.logger.warn({}, w);
  }
  await signalled();
  await running.stop();
  // A cluster worker's channel to the primary would keep the process alive after the server stopped.
  cluster.worker?.disconnect();
  return 0;
}

function signalled(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
