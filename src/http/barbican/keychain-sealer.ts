/**
 * Barbican payloads under the key chain: each project's secrets are encrypted under that project's own
 * chain in the keychain mount `barbican-keychain/` of the root namespace — an L1 `project-<namespace id>` in
 * the configured keystore (the HSM in production), an L2 and an L3 system of the same name. Each payload
 * gets a fresh data key (L4) from the project's system; the payload is AES-256-GCM under it (associated
 * data: the secret's id, so a stored payload cannot be moved to another secret) and only the wrapped data
 * key is stored. Revoking a project's L1 (`barbican-keychain/keys/project-<id>/revoke`) cuts off every
 * payload of that project and of no other.
 *
 * The keychain is called through the pipeline (KeychainClient) with a token of the root namespace that
 * holds only the `barbican-keychain-binding` policy: the calls are policy-checked and audited like any other.
 * The token never leaves the process and is replaced before it expires.
 *
 * STORED FORM (payload.kind "keychain", payload.data = JSON, forever):
 *   {v: 1, system: "<L3 name>", key: "<wrapped data key, as datakey returned it>", iv: b64 (12), ct: b64 (ciphertext ‖ tag 16)}
 * Payloads stored before the binding ("barrier" kind) stay readable.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import type { Core } from "../../core/core.js";
import type { NamespaceRef } from "../../core/framework/request.js";
import { newMount } from "../../core/mounts.js";
import { barrierSealer, type PayloadSealer, type StoredPayload } from "../../engines/barbican/barbican-env.js";
import { BarbicanError } from "../../engines/barbican/barbican-error.js";
import { KeychainClient } from "../../engines/keychain/client.js";

export const KEYCHAIN_MOUNT = "barbican-keychain";
export const BINDING_POLICY = "barbican-keychain-binding";
/** Dev mode's keystore (software: the dev server allows it). */
export const DEV_KEYSTORE = "dev-software";

const BINDING_POLICY_TEXT = `
path "${KEYCHAIN_MOUNT}/keystores/*" { capabilities = ["create", "read"] }
path "${KEYCHAIN_MOUNT}/keys/*" { capabilities = ["create", "read"] }
path "${KEYCHAIN_MOUNT}/key-configurations/*" { capabilities = ["create", "read"] }
path "${KEYCHAIN_MOUNT}/systems/*" { capabilities = ["create", "read", "update"] }
path "${KEYCHAIN_MOUNT}/keys/+/revoke" { capabilities = ["deny"] }
path "${KEYCHAIN_MOUNT}/keys/+/disable" { capabilities = ["deny"] }
`;

const TOKEN_TTL_S = 3600;
const TOKEN_RENEW_MS = 5 * 60 * 1000;

interface KeychainPayload {
  v: 1;
  system: string;
  key: string;
  iv: string;
  ct: string;
}

export interface KeychainBindingOptions {
  /** The keystore (in the keychain mount) that holds the projects' L1 keys. */
  keystore: string;
  /** Dev mode: mount the keychain and create a software keystore when missing. */
  dev: boolean;
}

/**
 * Made before the core (engines are built with the core) and attached to it once it exists; hands each
 * project's barbican mount its sealer.
 */
export class KeychainBinding {
  private core: Core | undefined;
  private token: { value: string; renewAt: number } | undefined;
  private setup: Promise<void> | undefined;
  private readonly systems = new Map<string, Promise<void>>();

  constructor(private readonly opts: KeychainBindingOptions) {}

  attach(core: Core): void {
    this.core = core;
  }

  /** The sealer for the barbican mount of namespace `ns`. */
  sealerFor(ns: NamespaceRef): PayloadSealer {
    const system = `project-${ns.id}`;
    return {
      kind: "keychain",
      seal: async (plaintext, secretId) => {
        const dk = await this.client(system)
          .then((client) => client.dataKey(system, 256))
          .catch((err: unknown) => {
            throw unusable(err);
          });
        try {
          const iv = randomBytes(12);
          const cipher = createCipheriv("aes-256-gcm", dk.plaintext, iv);
          cipher.setAAD(Buffer.from(secretId));
          const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
          const stored: KeychainPayload = { v: 1, system, key: dk.ciphertext, iv: iv.toString("base64"), ct: ct.toString("base64") };
          return { kind: "keychain", data: JSON.stringify(stored) };
        } finally {
          dk.plaintext.fill(0);
        }
      },
      open: async (stored: StoredPayload, secretId) => {
        if (stored.kind === "barrier") return barrierSealer.open(stored, secretId);
        if (stored.kind !== "keychain") throw new Error(`payload sealed by "${stored.kind}", which this server does not have`);
        const p = JSON.parse(stored.data) as KeychainPayload;
        const key = await this.client(p.system)
          .then((client) => client.decrypt(p.system, p.key))
          .catch((err: unknown) => {
            throw unusable(err);
          });
        try {
          const ct = Buffer.from(p.ct, "base64");
          const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(p.iv, "base64"));
          decipher.setAAD(Buffer.from(secretId));
          decipher.setAuthTag(ct.subarray(ct.length - 16));
          return Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]);
        } finally {
          key.fill(0);
        }
      },
    };
  }

  /** A client as the binding's token, once the project's chain exists. */
  private async client(system: string): Promise<KeychainClient> {
    const core = this.core;
    if (!core) throw new ArcaError("internal", "the Barbican keychain binding is not attached to a core");
    this.setup ??= this.prepare(core).catch((err: unknown) => {
      this.setup = undefined;
      throw err;
    });
    await this.setup;
    const client = new KeychainClient(core, { mount: KEYCHAIN_MOUNT, token: await this.bindingToken(core) });
    let ready = this.systems.get(system);
    if (!ready) {
      ready = this.ensureChain(client, system).catch((err: unknown) => {
        this.systems.delete(system);
        throw err;
      });
      this.systems.set(system, ready);
    }
    await ready;
    return client;
  }

  /** The binding's policy in the root namespace (and, in dev mode, the keychain mount and its keystore). */
  private async prepare(core: Core): Promise<void> {
    const root = core.root;
    if (!(await root.policies.read(BINDING_POLICY))) await root.policies.write(BINDING_POLICY, BINDING_POLICY_TEXT, {}, { builtin: true });
    if (!this.opts.dev) return;
    if (!root.router.get(`${KEYCHAIN_MOUNT}/`)) {
      await root.mount(newMount("secret", `${KEYCHAIN_MOUNT}/`, "keychain", { description: "Key chain of the Barbican projects' payloads" }));
    }
    const token = await this.bindingToken(core);
    const read = core.newRequest({ operation: "read", path: `${KEYCHAIN_MOUNT}/keystores/${this.opts.keystore}`, clientToken: token });
    if (!(await core.handleRequest(read))?.data) {
      await core.handleRequest(core.newRequest({ operation: "update", path: `${KEYCHAIN_MOUNT}/keystores/${this.opts.keystore}`, data: { type: "software" }, clientToken: token }));
    }
  }

  private async ensureChain(client: KeychainClient, system: string): Promise<void> {
    const core = this.core;
    if (!core) return;
    const token = await this.bindingToken(core);
    const exists = async (path: string) => (await core.handleRequest(core.newRequest({ operation: "read", path: `${KEYCHAIN_MOUNT}/${path}`, clientToken: token })))?.data != null;
    const create = (path: string, data: Record<string, unknown>) => core.handleRequest(core.newRequest({ operation: "update", path: `${KEYCHAIN_MOUNT}/${path}`, data, clientToken: token }));
    if (!(await exists(`keys/${system}`))) await create(`keys/${system}`, { keystore: this.opts.keystore });
    if (!(await exists(`key-configurations/${system}`))) await create(`key-configurations/${system}`, { primary_key: system });
    await client.ensureSystem(system, system, { type: "BARBICAN_PROJECT" });
  }

  private async bindingToken(core: Core): Promise<string> {
    if (this.token && this.token.renewAt > Date.now()) return this.token.value;
    const { token } = await core.root.tokens.create({
      policies: [BINDING_POLICY],
      path: "barbican/keychain-binding",
      displayName: "barbican-keychain-binding",
      ttl: TOKEN_TTL_S,
      renewable: false,
      noDefaultPolicy: true,
    });
    this.token = { value: token, renewAt: Date.now() + TOKEN_TTL_S * 1000 - TOKEN_RENEW_MS };
    return token;
  }
}

/**
 * A keychain refusal in Barbican's words: the project's key refused (revoked, disabled) is a 403; a key chain
 * that is missing (no mount, no keystore) or down is a 503, never a 404 that would read as "no such secret".
 */
function unusable(err: unknown): unknown {
  if (!(err instanceof ArcaError) || err.kind === "internal") return err;
  if (err.status >= 500 || err.kind === "not_found") return new BarbicanError("unavailable", `The key chain is not available: ${err.message.slice(0, 200)}`);
  return new BarbicanError("permission_denied", `Secret payload not available: the project's key is not usable (${err.message.slice(0, 200)})`);
}
