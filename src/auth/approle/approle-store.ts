/**
 * AppRole state in the mount's storage view. Role IDs, secret IDs and accessors are never stored:
 * only HMAC-SHA256 under the mount's salt (domain-separated per kind), so a storage dump or a raw read
 * yields no usable credential. Layout below the mount's view (`auth/<mount uuid>/`):
 *
 *   salt                                         32 random bytes, created on first use
 *   role/<lower-case role name>                  AppRoleRole (JSON; includes its role_id, which is an
 *                                                identifier like a username, not a secret)
 *   role_id/<hmac("role_id", role_id)>           { name }
 *   secret_id/<hmac("role", name)>/<hmac("secret_id", secret_id)>
 *                                                SecretIdEntry (JSON)
 *   accessor/<hmac("accessor", accessor)>        { secretIdHmac, roleHmac, accessor }
 *
 * Writes that touch more than one key (role + role_id index, secret ID + accessor, a login's use count)
 * run in one storage transaction.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { ArcaError } from "../../common/errors.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyValueReader, KeyValueStore, KeyValueTxn } from "../../storage/storage.js";
import type { TokenParams } from "../token-fields.js";

export interface AppRoleRole extends TokenParams {
  /** Lower-cased, as OpenBao stores role names (`LowerCaseRoleName`). */
  name: string;
  roleId: string;
  bindSecretId: boolean;
  secretIdBoundCidrs: string[];
  secretIdNumUses: number;
  /** Seconds; 0 = secret IDs do not expire. */
  secretIdTtl: number;
  localSecretIds: boolean;
}

export interface SecretIdEntry {
  /** HMAC of the secret ID, repeated in the entry so a login compares it in constant time. */
  secretIdHmac: string;
  accessor: string;
  /** Uses left; 0 = unlimited. */
  numUses: number;
  /** Seconds the secret ID was issued for; 0 = no expiry. */
  ttl: number;
  /** Unix ms. */
  creationTime: number;
  /** Unix ms; 0 = never. */
  expirationTime: number;
  lastUpdatedTime: number;
  metadata: Record<string, string>;
  cidrList: string[];
  tokenBoundCidrs: string[];
}

interface AccessorIndex {
  secretIdHmac: string;
  roleHmac: string;
  accessor: string;
}

/** OpenBao's maxHmacInputLength: longer role names and secret IDs are refused. */
export const MAX_HMAC_INPUT = 4096;

/** Loads the mount's salt once per backend instance (a new instance is built on every unseal). */
export class AppRoleSalt {
  private key: Promise<Buffer> | undefined;

  async open(storage: KeyValueStore): Promise<AppRoleStore> {
    this.key ??= loadSalt(storage).catch((err: unknown) => {
      this.key = undefined;
      throw err;
    });
    return new AppRoleStore(storage, await this.key);
  }
}

async function loadSalt(storage: KeyValueStore): Promise<Buffer> {
  return storage.transaction(async (txn) => {
    const existing = await txn.get("salt");
    if (existing) return existing;
    const salt = randomBytes(32);
    await txn.put("salt", salt);
    return salt;
  });
}

export class AppRoleStore {
  constructor(
    readonly storage: KeyValueStore,
    private readonly salt: Buffer,
  ) {}

  hmac(kind: "role_id" | "role" | "secret_id" | "accessor", value: string): string {
    if (Buffer.byteLength(value) > MAX_HMAC_INPUT) throw new ArcaError("invalid_request", `value is longer than maximum of ${MAX_HMAC_INPUT} bytes`);
    return createHmac("sha256", this.salt).update(`${kind}\0${value}`).digest("hex");
  }

  /** Constant-time equality of two hex HMACs. */
  static sameHmac(a: string, b: string): boolean {
    const x = Buffer.from(a, "hex");
    const y = Buffer.from(b, "hex");
    return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
  }

  // ---- roles --------------------------------------------------------------------------------------

  readRole(name: string, from: KeyValueReader = this.storage): Promise<AppRoleRole | undefined> {
    return getJson<AppRoleRole>(from, `role/${name.toLowerCase()}`);
  }

  async listRoles(): Promise<string[]> {
    return this.storage.list("role/");
  }

  /** Writes a role and its role_id index; refuses a role_id another role holds. */
  async writeRole(role: AppRoleRole, previousRoleId: string): Promise<void> {
    await this.storage.transaction(async (txn) => {
      const idKey = `role_id/${this.hmac("role_id", role.roleId)}`;
      const owner = await getJson<{ name: string }>(txn, idKey);
      if (owner && owner.name !== role.name) throw new ArcaError("invalid_request", "role_id already in use");
      if (previousRoleId !== "" && previousRoleId !== role.roleId) await txn.delete(`role_id/${this.hmac("role_id", previousRoleId)}`);
      await putJson(txn, `role/${role.name}`, role);
      await putJson(txn, idKey, { name: role.name });
    });
  }

  /** Deletes a role with its role_id index, every secret ID issued against it and their accessors. */
  async deleteRole(role: AppRoleRole): Promise<void> {
    const roleHmac = this.hmac("role", role.name);
    await this.storage.transaction(async (txn) => {
      for (const key of await listAll(txn, `secret_id/${roleHmac}/`)) {
        const entry = await getJson<SecretIdEntry>(txn, `secret_id/${roleHmac}/${key}`);
        if (entry) await txn.delete(`accessor/${this.hmac("accessor", entry.accessor)}`);
        await txn.delete(`secret_id/${roleHmac}/${key}`);
      }
      await txn.delete(`role_id/${this.hmac("role_id", role.roleId)}`);
      await txn.delete(`role/${role.name}`);
    });
  }

  async roleByRoleId(roleId: string): Promise<AppRoleRole | undefined> {
    const idx = await getJson<{ name: string }>(this.storage, `role_id/${this.hmac("role_id", roleId)}`);
    if (!idx) return undefined;
    const role = await this.readRole(idx.name);
    // The index must point back: a stale index row never logs anybody in.
    return role && role.roleId === roleId ? role : undefined;
  }

  // ---- secret IDs ---------------------------------------------------------------------------------

  secretIdKey(roleName: string, secretIdHmac: string): string {
    return `secret_id/${this.hmac("role", roleName)}/${secretIdHmac}`;
  }

  /** Registers a secret ID (generated or custom) with a fresh accessor. */
  async registerSecretId(roleName: string, secretId: string, entry: Omit<SecretIdEntry, "secretIdHmac" | "accessor">): Promise<SecretIdEntry> {
    const secretIdHmac = this.hmac("secret_id", secretId);
    const full: SecretIdEntry = { ...entry, secretIdHmac, accessor: randomUUID() };
    await this.storage.transaction(async (txn) => {
      const key = this.secretIdKey(roleName, secretIdHmac);
      if (await txn.get(key)) throw new ArcaError("invalid_request", "SecretID is already registered");
      const index: AccessorIndex = { secretIdHmac, roleHmac: this.hmac("role", roleName), accessor: full.accessor };
      await putJson(txn, `accessor/${this.hmac("accessor", full.accessor)}`, index);
      await putJson(txn, key, full);
    });
    return full;
  }

  async readSecretId(roleName: string, secretId: string): Promise<SecretIdEntry | undefined> {
    const h = this.hmac("secret_id", secretId);
    const entry = await getJson<SecretIdEntry>(this.storage, this.secretIdKey(roleName, h));
    return entry && AppRoleStore.sameHmac(entry.secretIdHmac, h) ? entry : undefined;
  }

  /** The secret ID behind an accessor, if the accessor belongs to this role. */
  async readByAccessor(roleName: string, accessor: string): Promise<SecretIdEntry | undefined> {
    const idx = await getJson<AccessorIndex>(this.storage, `accessor/${this.hmac("accessor", accessor)}`);
    if (!idx || idx.roleHmac !== this.hmac("role", roleName)) return undefined;
    return getJson<SecretIdEntry>(this.storage, `secret_id/${idx.roleHmac}/${idx.secretIdHmac}`);
  }

  /** Deletes a secret ID and its accessor together. */
  async destroySecretId(roleName: string, entry: SecretIdEntry): Promise<void> {
    await this.storage.transaction(async (txn) => this.destroyIn(txn, roleName, entry));
  }

  async destroyIn(txn: KeyValueTxn, roleName: string, entry: SecretIdEntry): Promise<void> {
    await txn.delete(`accessor/${this.hmac("accessor", entry.accessor)}`);
    await txn.delete(this.secretIdKey(roleName, entry.secretIdHmac));
  }

  /** Accessors of the role's secret IDs. */
  async listAccessors(roleName: string): Promise<string[]> {
    const roleHmac = this.hmac("role", roleName);
    const out: string[] = [];
    for (const key of await listAll(this.storage, `secret_id/${roleHmac}/`)) {
      const entry = await getJson<SecretIdEntry>(this.storage, `secret_id/${roleHmac}/${key}`);
      if (entry) out.push(entry.accessor);
    }
    return out;
  }

  /**
   * tidy/secret-id: removes expired secret IDs, secret IDs without an accessor row, and accessor rows
   * without a secret ID. Each removal is its own transaction so a long tidy does not hold the store.
   */
  async tidy(now = Date.now()): Promise<{ expired: number; dangling: number }> {
    const result = { expired: 0, dangling: 0 };
    for (const roleDir of await listAll(this.storage, "secret_id/")) {
      const roleHmac = roleDir.replace(/\/$/, "");
      for (const key of await listAll(this.storage, `secret_id/${roleHmac}/`)) {
        await this.storage.transaction(async (txn) => {
          const entry = await getJson<SecretIdEntry>(txn, `secret_id/${roleHmac}/${key}`);
          if (!entry) return;
          const accessorKey = `accessor/${this.hmac("accessor", entry.accessor)}`;
          const hasAccessor = (await txn.get(accessorKey)) !== undefined;
          if (entry.expirationTime > 0 && entry.expirationTime <= now) {
            result.expired++;
          } else if (!hasAccessor) {
            result.dangling++;
          } else {
            return;
          }
          await txn.delete(accessorKey);
          await txn.delete(`secret_id/${roleHmac}/${key}`);
        });
      }
    }
    for (const key of await listAll(this.storage, "accessor/")) {
      await this.storage.transaction(async (txn) => {
        const idx = await getJson<AccessorIndex>(txn, `accessor/${key}`);
        if (idx && (await txn.get(`secret_id/${idx.roleHmac}/${idx.secretIdHmac}`)) !== undefined) return;
        await txn.delete(`accessor/${key}`);
        result.dangling++;
      });
    }
    return result;
  }
}

/** Every key directly below `prefix`, page by page. */
async function listAll(store: KeyValueReader, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(prefix, { after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1];
  }
}
