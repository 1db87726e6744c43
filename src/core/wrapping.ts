/**
 * Response wrapping: a response is stored once, behind a single-use wrapping token, and the caller gets
 * only `wrap_info`. Unwrapping returns the original response exactly once.
 *
 * Layout (barrier): `sys/wrap/<wrapping token id>` = { response, creation_path, creation_time, ttl }.
 * The wrapping token itself is an ordinary token (policy `response-wrapping`, one use, TTL = wrap TTL),
 * so it expires and is revoked like any other.
 */
import { ArcaError } from "../common/errors.js";
import { getJson, putJson, StorageView } from "./view.js";
import type { Response, WrapInfo } from "./framework/request.js";
import type { TokenStore } from "./tokens/token-store.js";
import type { KeyValueStore } from "../storage/storage.js";
import { RESPONSE_WRAPPING_POLICY_NAME } from "./policy/builtin.js";

interface WrappedRecord {
  response: Omit<Response, "wrapInfo">;
  creation_path: string;
  creation_time: string;
  ttl: number;
}

export const MAX_WRAP_TTL = 32 * 24 * 3600;
const invalidToken = (): ArcaError => new ArcaError("invalid_request", "wrapping token is not valid or does not exist");

export class ResponseWrapper {
  private readonly store: StorageView;

  constructor(
    barrier: KeyValueStore,
    private readonly tokens: TokenStore,
  ) {
    this.store = new StorageView(barrier, "sys/wrap/");
  }

  async wrap(response: Omit<Response, "wrapInfo">, ttl: number, creationPath: string): Promise<Response> {
    if (ttl <= 0) throw new ArcaError("invalid_request", "wrapping TTL must be positive");
    if (ttl > MAX_WRAP_TTL) throw new ArcaError("invalid_request", "wrapping TTL is longer than the maximum allowed");
    const { token, entry } = await this.tokens.create({
      policies: [RESPONSE_WRAPPING_POLICY_NAME],
      path: creationPath,
      displayName: "response-wrapping",
      numUses: 1,
      ttl,
      renewable: false,
      orphan: true,
    });
    const created = new Date();
    const record: WrappedRecord = { response, creation_path: creationPath, creation_time: created.toISOString(), ttl };
    await putJson(this.store, entry.id, record);
    const wrapInfo: WrapInfo = {
      token,
      accessor: entry.accessor,
      ttl,
      creationTime: created.toISOString(),
      creationPath,
      wrappedAccessor: response.auth?.accessor,
    };
    return { wrapInfo };
  }

  /** Returns the wrapped response and destroys it with its token: a second unwrap fails. */
  async unwrap(token: string): Promise<Omit<Response, "wrapInfo">> {
    const entry = await this.wrappingTokenEntry(token);
    const record = await this.take(entry.id);
    await this.tokens.revokeTree(entry.id);
    if (!record) throw invalidToken();
    return record.response;
  }

  async lookup(token: string): Promise<{ creation_path: string; creation_time: string; creation_ttl: number }> {
    const entry = await this.tokens.lookup(token);
    if (!entry || !entry.policies.includes(RESPONSE_WRAPPING_POLICY_NAME)) throw invalidToken();
    const record = await getJson<WrappedRecord>(this.store, entry.id);
    if (!record) throw invalidToken();
    return { creation_path: record.creation_path, creation_time: record.creation_time, creation_ttl: record.ttl };
  }

  /**
   * Moves the wrapped response behind a new token. The record is taken (read and deleted in one
   * transaction) before anything else, so of concurrent rewraps of one token exactly one finds it: the
   * others fail as a second unwrap does.
   */
  async rewrap(token: string): Promise<Response> {
    const entry = await this.wrappingTokenEntry(token);
    const record = await this.take(entry.id);
    if (!record) throw invalidToken();
    let fresh: Response;
    try {
      fresh = await this.wrap(record.response, record.ttl, record.creation_path);
    } catch (err) {
      // Nothing was handed out: put the response back behind the old (still live) token.
      await putJson(this.store, entry.id, record);
      throw err;
    }
    await this.tokens.revokeTree(entry.id);
    return fresh;
  }

  private async wrappingTokenEntry(token: string): Promise<{ id: string }> {
    const entry = await this.tokens.lookup(token);
    if (!entry || !entry.policies.includes(RESPONSE_WRAPPING_POLICY_NAME)) throw invalidToken();
    return entry;
  }

  /** Reads and deletes a wrapped record atomically: at most one caller gets it. */
  private take(id: string): Promise<WrappedRecord | undefined> {
    return this.store.transaction(async (txn) => {
      const r = await getJson<WrappedRecord>(txn, id);
      if (r) await txn.delete(id);
      return r;
    });
  }
}
