/** sys/wrapping/wrap, unwrap, lookup and rewrap. */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../framework/path.js";
import type { Namespace } from "../namespaces/namespace.js";

const TOKEN = { token: { type: "string", description: "The wrapping token (defaults to the calling token for unwrap)." } } as const;

export function wrappingPaths(ns: Namespace): PathSpec[] {
  return [
    definePath({
      pattern: "wrapping/wrap",
      synopsis: "Wrap the request body: it can be read once, with the returned token.",
      operations: {
        update: async ({ req }) => {
          if (!req.wrapTtl) throw new ArcaError("invalid_request", "the request must ask for wrapping with X-Vault-Wrap-TTL");
          if (Object.keys(req.data).length === 0) throw new ArcaError("invalid_request", "empty wrapping request");
          return { data: { ...req.data } };
        },
      },
    }),
    definePath({
      pattern: "wrapping/unwrap",
      fields: TOKEN,
      synopsis: "Return a wrapped response, exactly once.",
      operations: {
        update: async ({ fields, req }) => {
          const token = fields.token || req.clientToken;
          if (!token) throw new ArcaError("invalid_request", "wrapping token is not valid or does not exist");
          const original = await ns.wrapper.unwrap(token);
          return original.data == null && !original.auth ? { ...original, data: {} } : original;
        },
      },
    }),
    definePath({
      pattern: "wrapping/lookup",
      fields: TOKEN,
      synopsis: "Creation details of a wrapping token (no token needed to call this).",
      operations: {
        update: async ({ fields }) => {
          if (!fields.token) throw new ArcaError("invalid_request", "missing token");
          return { data: await ns.wrapper.lookup(fields.token) };
        },
      },
    }),
    definePath({
      pattern: "wrapping/rewrap",
      fields: TOKEN,
      synopsis: "Move a wrapped response behind a new wrapping token; the old one stops working.",
      operations: {
        update: async ({ fields, req }) => {
          const token = fields.token || req.clientToken;
          if (!token) throw new ArcaError("invalid_request", "missing token");
          return ns.wrapper.rewrap(token);
        },
      },
    }),
  ];
}
