/** `arca auth enable|disable|list|tune`: auth method mounts (sys/auth). */
import { dispatch } from "./context.js";
import type { CliIo } from "./io.js";
import { disableMount, enableMount, listMounts, tuneMount, type MountTable } from "./mount-common.js";

const USAGE = `Usage: arca auth <subcommand> [options] [args]

Subcommands:
  enable   [-path=P] [-description=D] [-default-lease-ttl] [-max-lease-ttl] TYPE
  disable  PATH
  list     [-detailed]
  tune     [-default-lease-ttl] [-max-lease-ttl] [-description] PATH
`;

const TABLE: MountTable = { sysPath: "sys/auth", noun: "auth method" };

export function authCommand(argv: string[], io: CliIo): Promise<number> {
  return dispatch(
    "auth",
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
