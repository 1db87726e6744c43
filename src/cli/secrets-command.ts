/** `arca secrets enable|disable|list|tune`: secrets engine mounts (sys/mounts). */
import { dispatch } from "./context.js";
import type { CliIo } from "./io.js";
import { disableMount, enableMount, listMounts, tuneMount, type MountTable } from "./mount-common.js";

const USAGE = `Usage: arca secrets <subcommand> [options] [args]

Subcommands:
  enable   [-path=P] [-description=D] [-version=2] [-options=k=v] [-default-lease-ttl] [-max-lease-ttl] TYPE
  disable  PATH
  list     [-detailed]
  tune     [-default-lease-ttl] [-max-lease-ttl] [-description] [-options=k=v] PATH
`;

const TABLE: MountTable = { sysPath: "sys/mounts", noun: "secrets engine" };

export function secretsCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch(
    "secrets",
    {
      enable: (a, i) => enableMount(TABLE, a, i),
      disable: (a, i) => disableMount(TABLE, a, i),
      list: (a, i) => listMounts(TABLE, a, i),
      tune: (a, i) => tuneMount(TABLE, a, i),
    },
    argv,
    io,
    USAGE,
  );
}
