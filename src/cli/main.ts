/** The arca command: dispatches to one module per command group. */
import { serverCommand } from "./server-command.js";

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  server: serverCommand,
};

const USAGE = `Usage: arca <command> [args]

Commands:
  server     Start an Arca server (-dev for a throwaway development server)
`;

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(USAGE);
    process.exitCode = name && name !== "-h" && name !== "--help" && name !== "help" ? 1 : 0;
    return;
  }
  try {
    process.exitCode = await command(rest);
  } catch (err) {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
