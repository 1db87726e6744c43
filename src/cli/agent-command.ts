/**
 * `arca agent -config FILE [-once]`: keeps certificates for keys held in the service's own PKCS#11 token
 * (or TPM) issued and renewed by Arca's PKI (src/agent/). Runs until SIGINT/SIGTERM; with -once it issues
 * what is missing or due and exits (non-zero when any certificate failed), for init containers.
 */
import { parseArgs } from "./args.js";
import { EXIT_OK, UsageError } from "./context.js";
import type { CliIo } from "./io.js";
import { rejectUnknownFlags, requireConfigPath, runUntilStopped, warnPinExposure } from "./daemon-command.js";
import { createLogger, parseLogLevel } from "../server/log.js";
import { loadAgentConfig } from "../agent/config.js";
import { runAgent } from "../agent/agent.js";

const BOOL = new Set(["once", "h", "help"]);

const USAGE = `Usage: arca agent -config=FILE [-once] [-log-level=info]

For each certificate block: creates the key pair inside the declared PKCS#11 token when missing (sensitive,
never extractable), signs a CSR there, has it signed by pki/sign/:role, writes the certificate and chain
(the key never leaves the token), and renews before expiry. -once issues what is missing or due and exits.
See docs/agent.md.
`;

export interface AgentCommandOptions {
  /** Stops the daemon (tests); by default SIGINT/SIGTERM do. */
  signal?: AbortSignal;
}

export async function agentCommand(argv: string[], io: CliIo, opts: AgentCommandOptions = {}): Promise<number> {
  const { flags, positional } = parseArgs(argv, BOOL);
  if (flags.has("h") || flags.has("help")) {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument(s)\n${USAGE}`);
  rejectUnknownFlags(flags, ["config", "once", "log-level"], USAGE);
  const configPath = requireConfigPath(flags, USAGE);
  const config = await loadAgentConfig(configPath);
  warnPinExposure(io, configPath, config.hsms);
  const logger = createLogger(parseLogLevel(flags.get("log-level")), (l) => io.stderr(l));

  if (flags.get("once") === "true") {
    await runAgent(config, { logger, once: true });
    return EXIT_OK;
  }
  await runUntilStopped((signal) => runAgent(config, { logger, signal }), opts.signal);
  return EXIT_OK;
}
