/**
 * OpenBao ≥ 2.5.3's authenticated root-token generation, sys/generate-root-token/{attempt,update} (sudo):
 * the same attempt as the classic unauthenticated sys/generate-root/* (one attempt per server, shared by
 * both forms, as in OpenBao), answered in the envelope with the status under `data`. The bao CLI of those
 * versions (`bao operator generate-root`) calls these; hvac and the vault CLI call the classic ones.
 */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Core } from "../core.js";
import { decodeShare, generateRootWire } from "../generate-root.js";

const ATTEMPT_FIELDS = {
  otp: { type: "string", description: "One-time pad as long as a token (28 characters); generated and returned when omitted." },
  pgp_key: { type: "string", description: "Not supported: the token is returned XORed with the OTP only." },
} as const;

const UPDATE_FIELDS = {
  key: { type: "string", description: "One unseal (or recovery) share, hex or base64." },
  nonce: { type: "string", description: "The attempt's nonce." },
} as const;

async function submitShare(core: Core, key: string | undefined, nonce: string | undefined): Promise<Record<string, unknown>> {
  if (!key) throw new ArcaError("invalid_request", "'key' must be specified in request body as JSON");
  const share = decodeShare(key);
  try {
    return generateRootWire(await core.rootGeneration.update(share, nonce ?? ""));
  } finally {
    share.fill(0);
  }
}

/**
 * `<prefix>/{attempt,update}`. The classic sys/generate-root/* are unauthenticated (operator shares are the
 * authorisation) but go through the pipeline like every request, so each attempt and share is audited;
 * sys/generate-root-token/* are the same endpoints behind a token (sudo, root namespace). The wire format
 * answers these with the bare status object (src/http/vault). OpenBao ≥ 2.5.3 turns them off by default
 * in favour of sys/generate-root-token/*; we keep them on because hvac and the vault/bao CLI (`operator
 * generate-root`) call only these, and the point is recovering when no root token is left.
 */
function rootGenerationPaths(core: Core, prefix: "generate-root" | "generate-root-token", unauthenticated: boolean): PathSpec[] {
  return [
    definePath({
      pattern: `${prefix}/attempt`,
      ...(unauthenticated ? { unauthenticated: true } : {}),
      fields: ATTEMPT_FIELDS,
      synopsis: unauthenticated
        ? "Read, start or cancel a root-token generation attempt (authorised by the shares, not a token)."
        : "Read, start or cancel a root-token generation attempt authorised by unseal or recovery shares.",
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
      pattern: `${prefix}/update`,
      ...(unauthenticated ? { unauthenticated: true } : {}),
      fields: UPDATE_FIELDS,
      synopsis: "Submit one share to the root-token generation attempt.",
      operations: { update: async ({ fields }) => ({ data: await submitShare(core, fields.key, fields.nonce) }) },
    }),
  ];
}

export function generateRootPaths(core: Core): PathSpec[] {
  return [...rootGenerationPaths(core, "generate-root", true), ...rootGenerationPaths(core, "generate-root-token", false)];
}
