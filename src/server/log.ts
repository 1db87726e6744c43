/**
 * Structured JSON logs through pino. Callers pass objects; nothing logs tokens, keys or secret values:
 * the logger takes no request bodies at all, and pino's redaction drops the field names that could
 * carry one if a caller ever passes it by mistake.
 */
import { pino } from "pino";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

const REDACT = ["token", "client_token", "clientToken", "password", "secret_id", "key", "pin", "share", "*.token", "*.password", "*.secret_id"];

export function createLogger(level: LogLevel = "info", write?: (line: string) => void): Logger {
  const destination = write ? { write } : pino.destination({ fd: 2, sync: false });
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names ("info"), not numbers: easier to read and to filter in any log pipeline.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    destination,
  );
}

export function parseLogLevel(raw: string | undefined): LogLevel {
  const l = (raw ?? "info").toLowerCase();
  if (l === "trace" || l === "debug") return "debug";
  if (l === "warn" || l === "warning") return "warn";
  if (l === "error" || l === "err") return "error";
  return "info";
}
