// The `keystore_plugin "NAME" { … }` configuration block: how the server reaches one keystore plugin
// (docs/keystore-plugins.md).
//
//   keystore_plugin "vendor" {
//     command       = ["/usr/libexec/arca-vendor-keystore", "--region", "eu"]   # spawned by the server, or
//     socket        = "/run/arca/vendor.sock"                                  # a plugin run by someone else
//     env           = { VENDOR_CONFIG = "/etc/arca/vendor.json" }              # spawned plugins only
//     call_timeout  = 30                                                       # seconds (default 30)
//     start_timeout = 10                                                       # seconds (default 10)
//   }
//
// Strict like the hsm block: unknown keys are errors, and errors name the field without quoting values.
import { checkHclKeys, hclBlocks, hclMap, hclNumber, hclString, hclStringList, type HclObject } from "../../common/hcl/hcl.js";
import type { ConfigFailure } from "../hsm-config.js";
import type { KeystorePluginOptions } from "./plugin-key-manager.js";

export type KeystorePluginBlockConfig = Pick<KeystorePluginOptions, "name" | "command" | "socket" | "env" | "callTimeoutMs" | "startTimeoutMs">;

const KEYS = ["command", "socket", "env", "call_timeout", "start_timeout"] as const;
const MAX_TIMEOUT_SECONDS = 3600;

export function parseKeystorePluginBlocks(doc: HclObject, bad: ConfigFailure): KeystorePluginBlockConfig[] {
  const blocks = hclBlocks(doc, "keystore_plugin", 1);
  const names = new Set<string>();
  for (const { labels } of blocks) {
    if (names.has(labels[0])) bad(`keystore_plugin.${labels[0]}`, "duplicate keystore_plugin name");
    names.add(labels[0]);
  }
  return blocks.map((b) => parseBlock(b.labels[0], b.body, bad));
}

function parseBlock(name: string, b: HclObject, bad: ConfigFailure): KeystorePluginBlockConfig {
  const field = `keystore_plugin.${name}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) bad(field, "name may only contain letters, digits, '.', '_' and '-'");
  checkHclKeys(b, KEYS, field);
  const command = hclStringList(b, "command", `${field}.command`);
  const socket = hclString(b, "socket", `${field}.socket`) || undefined;
  if ((command === undefined) === (socket === undefined)) bad(field, "set exactly one of command and socket");
  if (command !== undefined && (command.length === 0 || command[0] === "")) bad(`${field}.command`, "needs the program to run");
  if (command !== undefined && !command[0].startsWith("/")) bad(`${field}.command`, "the program must be an absolute path (no PATH lookup)");
  if (socket !== undefined && !socket.startsWith("/")) bad(`${field}.socket`, "must be an absolute path");
  const envBody = hclMap(b, "env", `${field}.env`);
  if (envBody !== undefined && socket !== undefined) bad(`${field}.env`, "applies to spawned plugins only (command)");
  const env: Record<string, string> = {};
  for (const key of Object.keys(envBody ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) bad(`${field}.env`, "variable names are letters, digits and '_'");
    const v = hclString(envBody!, key, `${field}.env.${key}`);
    if (v === undefined) bad(`${field}.env.${key}`, "must be a string");
    env[key] = v;
  }
  const seconds = (key: "call_timeout" | "start_timeout"): number | undefined => {
    const v = hclNumber(b, key, `${field}.${key}`);
    if (v !== undefined && (!(v > 0) || v > MAX_TIMEOUT_SECONDS)) bad(`${field}.${key}`, `must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}`);
    return v === undefined ? undefined : v * 1000;
  };
  const callTimeoutMs = seconds("call_timeout");
  const startTimeoutMs = seconds("start_timeout");
  return {
    name,
    ...(command !== undefined ? { command } : {}),
    ...(socket !== undefined ? { socket } : {}),
    ...(envBody !== undefined ? { env } : {}),
    ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}),
    ...(startTimeoutMs !== undefined ? { startTimeoutMs } : {}),
  };
}
