/**
 * `random[/:source][/:urlbytes]` and `hash[/:urlalgorithm]`: key-less utilities.
 */
import { randomBytes } from "node:crypto";
import { invalidRequest } from "../../common/errors.js";
import { definePath } from "../../core/framework/path.js";
import { digest } from "./transit-crypto.js";
import { decodeBase64 } from "./transit-input.js";

/** OpenBao's cap on one random request. */
const MAX_RANDOM_BYTES = 128 * 1024;

const RANDOM_FIELDS = {
  p1: { type: "string" },
  p2: { type: "string" },
  bytes: { type: "int", default: 32, description: "The number of bytes to return (default 32, at most 131072)." },
  format: { type: "string", default: "base64", allowed: ["base64", "hex"], description: "Encoding: base64 or hex." },
  source: { type: "string", default: "platform", allowed: ["platform", "seal", "all"], description: "Entropy source." },
} as const;

function randomPath(pattern: string) {
  return definePath({
    pattern,
    fields: RANDOM_FIELDS,
    operations: {
      update: {
        summary: "Generate random bytes.",
        handler: async ({ fields }) => {
          // The path may carry a source, a byte count, or both (random/all/64, random/64).
          let bytes = fields.bytes;
          for (const seg of [fields.p1, fields.p2]) {
            if (seg === undefined) continue;
            if (/^\d+$/.test(seg)) bytes = Number(seg);
            else if (seg !== "platform" && seg !== "seal" && seg !== "all") throw invalidRequest(`unsupported entropy source ${seg.slice(0, 32)}`);
          }
          if (bytes < 1) throw invalidRequest("missing bytes");
          if (bytes > MAX_RANDOM_BYTES) throw invalidRequest(`exceeded maximum number of bytes (${MAX_RANDOM_BYTES})`);
          const buf = randomBytes(bytes);
          return { data: { random_bytes: buf.toString(fields.format === "hex" ? "hex" : "base64") } };
        },
      },
    },
    synopsis: "Generate random bytes",
  });
}

export const randomPaths = [randomPath("random"), randomPath("random/:p1"), randomPath("random/:p1/:p2")];

function hashPath(pattern: string) {
  return definePath({
    pattern,
    fields: {
      urlalgorithm: { type: "string" },
      input: { type: "string", required: true, description: "Base64 input." },
      algorithm: { type: "string", default: "sha2-256", description: "sha2-224, sha2-256, sha2-384, sha2-512, sha3-*." },
      format: { type: "string", default: "hex", allowed: ["hex", "base64"], description: "Encoding of the sum." },
    },
    operations: {
      update: {
        summary: "Generate a hash sum for input data.",
        handler: async ({ fields }) => {
          const sum = digest(fields.urlalgorithm ?? fields.algorithm, decodeBase64("input", fields.input));
          return { data: { sum: sum.toString(fields.format === "base64" ? "base64" : "hex") } };
        },
      },
    },
    synopsis: "Generate a hash sum for input data",
  });
}

export const hashPaths = [hashPath("hash"), hashPath("hash/:urlalgorithm")];
