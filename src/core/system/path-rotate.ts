/** sys/rotate, sys/rotate/keyring, their config, and sys/key-status. */
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";

const CONFIG_FIELDS = {
  max_operations: { type: "int", description: "Encryptions after which the keyring is rotated automatically." },
  interval: { type: "duration", description: "Time after which the keyring is rotated automatically (0 = never)." },
  enabled: { type: "bool" },
} as const;

export function rotatePaths(core: Core): PathSpec[] {
  const status = () => {
    const s = core.barrier.keyStatus();
    return { term: s.term, install_time: s.installTime.toISOString(), encryptions: s.encryptions };
  };
  const rotate = definePath({
    pattern: "rotate/keyring",
    synopsis: "Rotate the barrier encryption key: new writes use a new term; old terms keep decrypting.",
    operations: {
      update: async () => {
        await core.rotateKeyring();
        return undefined;
      },
    },
  });
  const config = (pattern: string) =>
    definePath({
      pattern,
      fields: CONFIG_FIELDS,
      synopsis: "Configure automatic rotation of the barrier keyring.",
      operations: {
        read: async () => {
          const c = core.barrier.rotationConfig();
          return { data: { max_operations: c.maxOperations, interval: c.intervalSeconds, enabled: c.enabled } };
        },
        update: async ({ fields }) => {
          const c = core.barrier.rotationConfig();
          await core.setKeyringRotationConfig({
            maxOperations: fields.max_operations ?? c.maxOperations,
            intervalSeconds: fields.interval ?? c.intervalSeconds,
            enabled: fields.enabled ?? c.enabled,
          });
          return undefined;
        },
      },
    });
  return [
    rotate,
    { ...rotate, pattern: "rotate" },
    config("rotate/keyring/config"),
    config("rotate/config"),
    definePath({
      pattern: "key-status",
      synopsis: "The barrier's active key term.",
      operations: { read: async () => ({ data: status() }) },
    }),
  ];
}
