/**
 * Structured JSON logs on stderr. Callers pass objects; nothing logs tokens, keys or secret values,
 * so the logger takes no request bodies at all.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export function createLogger(level: LogLevel = "info", write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const at = (lvl: LogLevel) => (fields: Record<string, unknown>, msg: string) => {
    if (ORDER[lvl] < ORDER[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + "\n");
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export function parseLogLevel(raw: string | undefined): LogLevel {
  const l = (raw ?? "info").toLowerCase();
  if (l === "trace" || l === "debug") return "debug";
  if (l === "warn" || l === "warning") return "warn";
  if (l === "error" || l === "err") return "error";
  return "info";
}
