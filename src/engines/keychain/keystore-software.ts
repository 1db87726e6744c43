/**
 * `type=software` (development only): L1 keys are random AES-256 keys kept in the mount's own storage
 * (barrier-encrypted, so not in plaintext on disk, but not in an HSM either). Refused unless the mount says
 * `allow_software_keystore=true` or the engine was built for dev mode; GET shows `dev_only: "true"`.
 * Destroy erases the record, so crypto-shredding works here too.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { ArcaError, invalidRequest } from "../../common/errors.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { openAead, sealAead } from "./aead.js";
import type { KeystoreContext, KeystoreProvider, KeystoreSettings, KeystoreType, L1Algorithm, L1Ref, ProbeResult } from "./keystore.js";

const PREFIX = "software-l1/";

class SoftwareKeystore implements KeystoreProvider {
  constructor(private readonly storage: KeyValueStore) {}

  private async material(ref: L1Ref): Promise<Buffer> {
    const raw = await this.storage.get(PREFIX + ref.uri);
    if (!raw) throw new ArcaError("invalid_request", "the L1 key's material was destroyed");
    return Buffer.from(raw.toString("utf8"), "base64");
  }

  async createKey(req: { label: string; algorithm: L1Algorithm }): Promise<L1Ref> {
    if (req.algorithm !== "AES256") throw invalidRequest("software keystores make AES256 L1 keys");
    const id = randomUUID();
    const key = randomBytes(32);
    await this.storage.put(PREFIX + id, Buffer.from(key.toString("base64"), "utf8"));
    key.fill(0);
    return { uri: id, owned: true };
  }

  async wrap(ref: L1Ref, plaintext: Buffer, aad: Buffer): Promise<Buffer> {
    const key = await this.material(ref);
    try {
      return sealAead(key, plaintext, aad);
    } finally {
      key.fill(0);
    }
  }

  async unwrap(ref: L1Ref, blob: Buffer, aad: Buffer): Promise<Buffer> {
    const key = await this.material(ref);
    try {
      return openAead(key, blob, aad);
    } finally {
      key.fill(0);
    }
  }

  async probe(ref: L1Ref): Promise<ProbeResult> {
    return (await this.storage.get(PREFIX + ref.uri)) ? "ENABLED" : "FORBIDDEN";
  }

  async destroy(ref: L1Ref): Promise<void> {
    await this.storage.delete(PREFIX + ref.uri);
  }
}

export const softwareKeystoreType: KeystoreType = {
  type: "software",
  origins: ["generated"],
  async parse(_input: Record<string, unknown>, ctx: KeystoreContext) {
    if (!ctx.allowSoftware) {
      throw invalidRequest("software keystores are for development only: mount the engine with allow_software_keystore=true (or run a dev server)");
    }
    return { config: { dev_only: "true" }, secrets: {} };
  },
  open(_settings: KeystoreSettings, ctx: KeystoreContext): KeystoreProvider {
    return new SoftwareKeystore(ctx.storage);
  },
};
