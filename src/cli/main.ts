/** The arca command: dispatches to one module per command group. */
import { authCommand } from "./auth-command.js";
import { ApiError, TransportError } from "./client.js";
import { EXIT_API, EXIT_OK, EXIT_USAGE, UsageError } from "./context.js";
import { deleteCommand, listCommand, readCommand, writeCommand } from "./generic-command.js";
import { escapeTerminalControls } from "./format.js";
import { processIo, type CliIo } from "./io.js";
import { kmsPluginCommand } from "./kms-plugin-command.js";
import { kvCommand } from "./kv-command.js";
import { loginCommand } from "./login-command.js";
import { operatorCommand, statusCommand } from "./operator-command.js";
import { policyCommand } from "./policy-command.js";
import { namespaceCommand } from "./namespace-command.js";
import { auditCommand } from "./audit-command.js";
import { unsealerCommand } from "./unsealer-command.js";
import { agentCommand } from "./agent-command.js";
import { secretsCommand } from "./secrets-command.js";
import { serverCommand } from "./server-command.js";
import { tokenCommand } from "./token-command.js";

type Command = (argv: string[], io: CliIo) => Promise<number>;

interface CommandEntry {
  run: Command;
  summary: string;
}

const COMMANDS: Record<string, CommandEntry> = {
  server: { run: serverCommand, summary: "Start an Arca server (-dev for a throwaway development server)" },
  status: { run: statusCommand, summary: "Print the seal status (exit 2 when sealed)" },
  operator: { run: operatorCommand, summary: "init, unseal, seal" },
  login: { run: loginCommand, summary: "Authenticate and store the token in ~/.arca-token" },
  token: { run: tokenCommand, summary: "create, lookup, renew, revoke, capabilities" },
  policy: { run: policyCommand, summary: "write, read, list, delete ACL policies" },
  namespace: { run: namespaceCommand, summary: "create, lookup, list, patch, delete, lock, unlock, seal, unseal namespaces" },
  unsealer: { run: unsealerCommand, summary: "Auto-unseal daemon; seal-share stores a share sealed by an HSM key" },
  agent: { run: agentCommand, summary: "Keep certificates for keys held in a PKCS#11 token (or TPM) issued and renewed" },
  audit: { run: auditCommand, summary: "enable, disable, list audit devices; verify a log's chain" },
  secrets: { run: secretsCommand, summary: "enable, disable, list, tune secrets engines" },
  auth: { run: authCommand, summary: "enable, disable, list, tune auth methods" },
  kv: { run: kvCommand, summary: "put, get, patch, delete, undelete, destroy, list, metadata" },
  "kms-plugin": { run: (argv, io) => kmsPluginCommand(argv, io), summary: "Kubernetes KMS v2 plugin on a keychain system's data keys" },
  read: { run: readCommand, summary: "Read any API path" },
  write: { run: writeCommand, summary: "Write any API path" },
  list: { run: listCommand, summary: "List keys under any API path" },
  delete: { run: deleteCommand, summary: "Delete any API path" },
};

const USAGE = `Usage: arca <command> [args]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Environment: ARCA_ADDR (or VAULT_ADDR, BAO_ADDR; default http://127.0.0.1:8200), ARCA_TOKEN (or
VAULT_TOKEN, BAO_TOKEN; else the token file ~/.arca-token or ARCA_TOKEN_FILE), ARCA_NAMESPACE,
ARCA_CACERT, ARCA_SKIP_VERIFY (VAULT_* equivalents are read too).
Global flags: -address, -namespace, -format=table|json, -ca-cert, -tls-skip-verify.
`;

/** Runs one command line against the given I/O and returns the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "-help" || name === "--help" || name === "help") {
    (name === undefined ? io.stderr : io.stdout)(USAGE);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`Error: unknown command "${name}" (run "arca -h" for the list)\n`);
    return EXIT_USAGE;
  }
  // On a terminal, what the server sent is shown, never interpreted (escape sequences in secrets).
  const shown: CliIo = io.stdoutIsTty ? { ...io, stdout: (t) => io.stdout(escapeTerminalControls(t)) } : io;
  try {
    return await command.run(rest, shown);
  } catch (err) {
    // One line, never a stack or the request headers (the token lives there).
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`Error: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    if (err instanceof UsageError) return EXIT_USAGE;
    if (err instanceof ApiError || err instanceof TransportError) return EXIT_API;
    // Anything else is local (an unreadable file, a config error): the server command exits 2 on those.
    return name === "server" ? EXIT_USAGE : EXIT_API;
  }
}

export async function main(argv: string[]): Promise<void> {
  process.exitCode = await run(argv, processIo());
}
