// Test support for ACME: a PKI backend with an issuer and ACME enabled, driven in-process through the
// backend harness, and an ACME client whose transport is that harness.
import { ArcaError } from "../../../common/errors.js";
import { rawMediaType, type Response } from "../../../core/framework/request.js";
import { backendHarness } from "../../../../test/backend-harness.js";
import { AcmeTestClient, accountKey, type AcmeReply, type Transport } from "../../../../test/acme-client.js";
import type { KeyManager } from "../../../hsm/key-manager.js";
import { createPkiBackendWith } from "../backend.js";
import type { AcmeResolver } from "./validation/resolver.js";

export const MOUNT_URL = "https://ca.test/v1/pki";

/** A fixed DNS: names to addresses, and TXT records that tests set. */
export function tableResolver(addresses: Record<string, string[]>, txt: Map<string, string[]> = new Map()): AcmeResolver & { txtRecords: Map<string, string[]> } {
  return {
    txtRecords: txt,
    addresses: async (name) => addresses[name] ?? [],
    txt: async (name) => txt.get(name) ?? [],
  };
}

function reply(resp: Response | undefined): AcmeReply {
  const raw = resp?.raw;
  if (!raw) return { status: 204, headers: {}, body: "" };
  const h = raw.headers ?? {};
  return {
    status: raw.status,
    headers: { replayNonce: h.replayNonce, location: h.location, link: h.link, retryAfter: h.retryAfter, contentType: raw.contentType },
    body: typeof raw.body === "string" ? raw.body : raw.body.toString("utf8"),
  };
}

export async function acmeHarness(opts: { resolver?: AcmeResolver; keyManager?: KeyManager; acmeConfig?: Record<string, unknown>; attemptTimeoutMs?: number } = {}) {
  const resolver = opts.resolver ?? tableResolver({});
  const h = backendHarness(
    createPkiBackendWith({ keyManager: opts.keyManager, acmeValidation: { resolver: () => resolver, attemptTimeoutMs: opts.attemptTimeoutMs ?? 2000, retryDelaysMs: [20, 40] } }),
    { point: "pki/", type: "pki" },
  );
  await h.call("write", "root/generate/internal", { common_name: "Arca ACME Test Root", key_type: "ec", key_bits: 256, ttl: "8760h" });
  await h.call("write", "config/cluster", { path: MOUNT_URL });
  await h.call("write", "config/acme", { enabled: true, ...opts.acmeConfig });

  const transport: Transport = async (method, url, body, contentType) => {
    if (!url.startsWith(`${MOUNT_URL}/`)) throw new Error(`not this mount: ${url}`);
    const path = url.slice(MOUNT_URL.length + 1);
    const mediaType = rawMediaType(contentType);
    try {
      if (method !== "POST") return reply(await h.call("read", path));
      const bytes = Buffer.from(body ?? "");
      if (mediaType) return reply(await h.call("write", path, {}, { mediaType, bytes }));
      return reply(await h.call("write", path, body ? (JSON.parse(body) as Record<string, unknown>) : {}));
    } catch (err) {
      if (err instanceof ArcaError) return { status: err.status, headers: {}, body: JSON.stringify({ errors: [err.message] }) };
      throw err;
    }
  };

  const client = async (alg?: Parameters<typeof accountKey>[0], directory = `${MOUNT_URL}/acme/directory`): Promise<AcmeTestClient> =>
    new AcmeTestClient(transport, directory, await accountKey(alg)).init();

  /** Storage keys below acme/ other than nonce bookkeeping: what "nothing was stored" is judged by. */
  const acmeState = async (): Promise<string[]> => [...(await h.dump("acme/")).keys()].filter((k) => !k.startsWith("acme/used-nonces/") && k !== "acme/nonce-key");

  return { ...h, transport, client, acmeState, resolver };
}
