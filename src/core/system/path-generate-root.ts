/**
 * OpenBao ≥ 2.5.3's authenticated root-token generation, sys/generate-root-token/{attempt,update} (sudo):
 * the same attempt as the classic unauthenticated sys/generate-root/* (one attempt per server, shared by
 * both forms, as in OpenBao), answered in the envelope with the status under `data`. The bao CLI of those
 * versions (`bao operator generate-root`) calls these; hvac and the vault CLI call the classic ones.
 */
import { ArcaError } from "../errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";
import { decodeShare, generateRootWire } from "../../seal/generate-root.js";

export function generateRootPaths(core: Core): PathSpec[] {
  return [
    definePath({
      pattern: "generate-root-token/attempt",
      fields: {
        otp: { type: "string", description: "One-time pad as long as a token (28 characters); generated and returned when omitted." },
        pgp_key: { type: "string", description: "Not supported: the token is returned XORed with the OTP only." },
      },
      synopsis: "Read, start or cancel a root-token generation attempt authorised by unseal or recovery shares.",
      operations: {
        read: async () => ({ data: generateRootWire(core.rootGeneration.status()) }),
        update: async ({ fields }) => ({ data: generateRootWire(core.rootGeneration.start({ otp: fields.otp, pgpKey: fields.pgp_key })) }),
        delete: async () => {
          core.rootGeneration.cancel();
          return undefined;
        },
      },
    }),
    definePath({
      pattern: "generate-root-token/update",
      fields: {
        key: { type: "string", description: "One unseal (or recovery) share, hex or base64." },
        nonce: { type: "string", description: "The attempt's nonce." },
      },
      synopsis: "Submit one share to the root-token generation attempt.",
      operations: {
        update: async ({ fields }) => {
          if (!fields.key) throw new ArcaError("invalid_request", "'key' must be specified in request body as JSON");
          const share = decodeShare(fields.key);
          try {
            return { data: generateRootWire(await core.rootGeneration.update(share, fields.nonce ?? "")) };
          } finally {
            share.fill(0);
          }
        },
      },
    }),
  ];
}
