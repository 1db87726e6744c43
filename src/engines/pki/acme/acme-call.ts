/**
 * One ACME request's frame: the directory it addresses, the JWS it carries, and the answer's headers. Every
 * ACME answer carries a fresh `Replay-Nonce` and `Link: <directory>;rel="index"` (RFC 8555 §6.5, §7.1); every
 * failure is a problem document (problem.ts), never the OpenBao error envelope, and never a bare 500 for
 * bad input.
 */
import { ArcaError } from "../../../common/errors.js";
import type { Handler, HandlerContext } from "../../../core/framework/path.js";
import type { Fields } from "../../../core/framework/fields.js";
import type { Response, ResponseHeaders } from "../../../core/framework/request.js";
import type { KeyValueStore } from "../../../storage/storage.js";
import { directoryOf, urls, type Directory } from "./directory.js";
import { verifyJws, type JwsExpectations, type VerifiedJws } from "./jws.js";
import { issueNonce, type NonceKeys } from "./nonces.js";
import { AcmeProblem, problem, problemResponse } from "./problem.js";

export interface AcmeCall {
  ctx: HandlerContext<Fields>;
  storage: KeyValueStore;
  dir: Directory;
  /** Verifies the request's JWS (jws.ts) and records the account as the audit identity. */
  verify(key: JwsExpectations["key"]): Promise<VerifiedJws>;
}

export interface AcmeAnswer {
  status?: number;
  /** A JSON object, or a raw body with its media type. */
  json?: unknown;
  raw?: { contentType: string; body: string | Buffer };
  location?: string;
  links?: string[];
  retryAfter?: number;
}

/** Wraps an ACME resource handler: directory checks, headers, problem documents. */
export function acmeHandler(nonceKeys: NonceKeys, fn: (call: AcmeCall) => Promise<AcmeAnswer>): Handler<Fields> {
  return async (ctx) => {
    const storage = ctx.storage;
    let dir: Directory | undefined;
    try {
      dir = await directoryOf(storage, ctx.params, ctx.req.mountPath.replace(/\/+$/, ""));
      const d = dir;
      const call: AcmeCall = {
        ctx,
        storage,
        dir: d,
        verify: async (key) => {
          const v = await verifyJws(storage, ctx.req.body, { url: d.requestUrl, key, accountUrlPrefix: urls.accountPrefix(d), nonceKeys });
          if (v.account) ctx.req.auditIdentity = { kind: "acme-account", id: v.account.id };
          // always-required: an account made before EAB was required may not go on without one.
          if (v.account && d.config.eabPolicy === "always-required" && !v.account.eabKid) throw problem("externalAccountRequired", "this server requires accounts bound to an external account");
          return v;
        },
      };
      const a = await fn(call);
      const headers: ResponseHeaders = {
        replayNonce: await issueNonce(storage, nonceKeys),
        link: [`<${urls.directory(d)}>;rel="index"`, ...(a.links ?? [])],
        ...(a.location ? { location: a.location } : {}),
        ...(a.retryAfter !== undefined ? { retryAfter: a.retryAfter } : {}),
      };
      if (a.raw) return { raw: { status: a.status ?? 200, contentType: a.raw.contentType, body: a.raw.body, headers } };
      const body = a.json === undefined ? "" : JSON.stringify(a.json);
      return { raw: { status: a.status ?? 200, contentType: "application/json", body, headers } };
    } catch (err) {
      return failure(storage, nonceKeys, dir, err);
    }
  };
}

async function failure(storage: KeyValueStore, nonceKeys: NonceKeys, dir: Directory | undefined, err: unknown): Promise<Response> {
  const p = asProblem(err);
  // A nonce only where the directory is served: a disabled ACME hands out nothing.
  const headers: ResponseHeaders = dir ? { replayNonce: await issueNonce(storage, nonceKeys), link: [`<${urls.directory(dir)}>;rel="index"`] } : {};
  return problemResponse(p, headers);
}

/**
 * API errors from the PKI code that ACME reuses (role checks, issuance) become problems: a 4xx is the
 * client's (malformed, or what the thrower chose), anything else the server's, without its detail.
 */
export function asProblem(err: unknown, clientType: "malformed" | "badCSR" | "rejectedIdentifier" = "malformed"): AcmeProblem {
  if (err instanceof AcmeProblem) return err;
  if (err instanceof ArcaError) {
    if (err.status < 500) return problem(clientType, err.message, 400);
    return problem("serverInternal", err.kind === "upstream" ? "the CA's key is unavailable" : "internal error", err.status);
  }
  throw err;
}
