/**
 * `arca unsealer -config FILE`: the auto-unseal daemon (runs until SIGINT/SIGTERM).
 * `arca unsealer seal-share -config FILE [-share N] [-force]`: reads one unseal share from stdin and
 * stores it sealed by an HSM key. The share is never accepted on the command line (argv shows in `ps`).
 */
import { parseArgs } from "./args.js";
import { EXIT_OK, UsageError } from "./context.js";
import type { CliIo } from "./io.js";
import { rejectUnknownFlags, requireConfigPath, runUntilStopped, warnPinExposure } from "./daemon-command.js";
import { createLogger, parseLogLevel } from "../server/log.js";
import { loadUnsealerConfig } from "../unsealer/config.js";
import { runDaemon, sealShareWithConfig } from "../unsealer/daemon.js";
import { parseShareInput } from "../unsealer/sealed-share.js";

const BOOL = new Set(["force", "h", "help"]);

const USAGE = `Usage: arca unsealer -config=FILE [-log-level=info]
       arca unsealer seal-share -config=FILE [-share=N] [-force]  < share

The daemon watches the servers in the config and posts its sealed share(s) to any that is sealed.
seal-share reads one unseal share (hex or base64) from stdin, seals it with the key the config's share
block names (AES-256-GCM, or RSA-OAEP for a TPM; created in the token if missing) and writes the sealed
file (mode 0600).
`;

export interface UnsealerCommandOptions {
  /** Stops the daemon (tests); by default SIGINT/SIGTERM do. */
  signal?: AbortSignal;
}

export async function unsealerCommand(argv: string[], io: CliIo, opts: UnsealerCommandOptions = {}): Promise<number> {
  const { flags, positional } = parseArgs(argv, BOOL);
  if (flags.has("h") || flags.has("help")) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  const sub = positional[0];
  if (positional.length > 1 || (sub !== undefined && sub !== "seal-share")) {
    // A share typed as an argument would already be in the shell history and in `ps`: say so.
    throw new UsageError(`unexpected argument(s); shares are read from stdin only. ${USAGE}`);
  }
  const known = sub === "seal-share" ? ["config", "share", "force"] : ["config", "log-level"];
  rejectUnknownFlags(flags, known, USAGE);
  const configPath = requireConfigPath(flags, USAGE);
  let index: number | undefined;
  const rawIndex = flags.get("share");
  if (rawIndex !== undefined) {
    if (!/^[1-9]\d*$/.test(rawIndex)) throw new UsageError("-share must be a share block number (1, 2, …)");
    index = Number(rawIndex) - 1;
  }
  const config = await loadUnsealerConfig(configPath);
  warnPinExposure(io, configPath, config.hsms);

  if (sub === "seal-share") {
    const line = await io.readSecretLine("Unseal share (hex or base64): ");
    const share = parseShareInput(line);
    const result = await sealShareWithConfig(config, share, { index, force: flags.get("force") === "true" });
    io.stdout(
      `${result.keyCreated ? "Created" : "Used"} HSM key ${result.keyUri}\nSealed share written to ${result.file}\n`,
    );
    return EXIT_OK;
  }

  const logger = createLogger(parseLogLevel(flags.get("log-level")), (l) => io.stderr(l));
  await runUntilStopped((signal) => runDaemon(config, { logger, signal }), opts.signal);
  return EXIT_OK;
}
