/** new-account (with onlyReturnExisting and EAB), account/:kid (read, update, deactivate), key-change. */
import { flattenedVerify, type JWK } from "jose";
import type { AcmeAnswer, AcmeCall } from "./acme-call.js";
import { acmeId, AK, getAcme, putAcme, type AccountRecord } from "./acme-store.js";
import { urls } from "./directory.js";
import { checkEab } from "./eab.js";
import { ACCOUNT_ALGORITHMS, jsonPayload, parseFlattenedJws, publicJwk, thumbprint } from "./jws.js";
import { accountObject } from "./objects.js";
import { problem } from "./problem.js";

function contacts(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 10 || !v.every((c) => typeof c === "string" && c.length < 256)) throw problem("malformed", "contact must be an array of URLs");
  for (const c of v as string[]) if (!/^mailto:[^@\s,]+@[^@\s,]+$/.test(c)) throw problem("malformed", `unsupported contact "${c.slice(0, 64)}": only mailto: with one address`);
  return v as string[];
}

export async function newAccount(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("jwk");
  const p = jsonPayload(v) ?? {};
  const tp = await thumbprint(v.jwk);
  const existing = await accountByThumbprint(call, tp);
  if (existing) return { status: 200, json: accountObject(call.dir, existing), location: urls.account(call.dir, existing.id) };
  if (p.onlyReturnExisting === true) throw problem("accountDoesNotExist", "no account exists with this key");
  const contact = contacts(p.contact);
  const policy = call.dir.config.eabPolicy;
  const eab = p.externalAccountBinding === undefined ? undefined : await checkEab(call.storage, p.externalAccountBinding, v.jwk, call.dir.requestUrl, call.dir.prefix);
  if (!eab && policy !== "not-required") throw problem("externalAccountRequired", "this server requires an external account binding");
  const account: AccountRecord = {
    id: acmeId(),
    jwk: v.jwk,
    thumbprint: tp,
    status: "valid",
    contact,
    termsOfServiceAgreed: p.termsOfServiceAgreed === true,
    createdAt: Date.now(),
    ...(eab ? { eabKid: eab.id } : {}),
    directory: call.dir.prefix,
  };
  const created = await call.storage.transaction(async (txn) => {
    // Two new-account requests with one key race here: the second sees the first's thumbprint.
    const taken = await getAcme<{ accountId: string }>(txn, AK.thumbprint(tp));
    if (taken) return getAcme<AccountRecord>(txn, AK.account(taken.accountId));
    if (eab) {
      if (!(await txn.get(AK.eab(eab.id)))) throw problem("unauthorized", "externalAccountBinding key was already used");
      await txn.delete(AK.eab(eab.id));
    }
    await putAcme(txn, AK.account(account.id), account);
    await putAcme(txn, AK.thumbprint(tp), { accountId: account.id });
    return undefined;
  });
  if (created) return { status: 200, json: accountObject(call.dir, created), location: urls.account(call.dir, created.id) };
  return { status: 201, json: accountObject(call.dir, account), location: urls.account(call.dir, account.id) };
}

async function accountByThumbprint(call: AcmeCall, tp: string): Promise<AccountRecord | undefined> {
  const ref = await getAcme<{ accountId: string }>(call.storage, AK.thumbprint(tp));
  return ref ? getAcme<AccountRecord>(call.storage, AK.account(ref.accountId)) : undefined;
}

export async function updateAccount(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const account = v.account!;
  if (call.ctx.params.kid !== account.id) throw problem("unauthorized", "the JWS account does not own this account URL");
  const p = jsonPayload(v);
  if (p) {
    const updated: AccountRecord = { ...account };
    if (p.contact !== undefined) updated.contact = contacts(p.contact);
    if (p.status !== undefined) {
      if (p.status !== "deactivated") throw problem("malformed", 'only "deactivated" may be requested as an account status');
      updated.status = "deactivated";
      updated.statusChangedAt = Date.now();
    }
    await putAcme(call.storage, AK.account(account.id), updated);
    return { json: accountObject(call.dir, updated), location: urls.account(call.dir, account.id) };
  }
  return { json: accountObject(call.dir, account), location: urls.account(call.dir, account.id) };
}

/** RFC 8555 §7.3.5: the outer JWS by the old key (kid), the inner by the new key (jwk) over {account, oldKey}. */
export async function keyChange(call: AcmeCall): Promise<AcmeAnswer> {
  const v = await call.verify("kid");
  const account = v.account!;
  const inner = parseFlattenedJws({ mediaType: "application/jose+json", bytes: Buffer.from(v.payload) });
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(inner.protected, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    throw problem("malformed", "key-change inner JWS header is not valid");
  }
  if (header.kid !== undefined || header.jwk === undefined) throw problem("malformed", "key-change inner JWS must carry the new key as jwk");
  if (header.nonce !== undefined) throw problem("malformed", "key-change inner JWS must not carry a nonce");
  if (header.url !== call.dir.requestUrl) throw problem("malformed", "key-change inner JWS url must equal the outer url");
  const newJwk = publicJwk(header.jwk);
  let payload: Uint8Array;
  try {
    ({ payload } = await flattenedVerify(inner, newJwk, { algorithms: [...ACCOUNT_ALGORITHMS] }));
  } catch {
    throw problem("malformed", "key-change inner JWS signature verification failed");
  }
  let body: { account?: unknown; oldKey?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload).toString("utf8")) as typeof body;
  } catch {
    throw problem("malformed", "key-change inner payload is not JSON");
  }
  if (body.account !== urls.account(call.dir, account.id)) throw problem("unauthorized", "key-change inner payload names another account");
  const oldTp = typeof body.oldKey === "object" && body.oldKey !== null ? await thumbprint(body.oldKey as JWK).catch(() => "") : "";
  if (oldTp !== account.thumbprint) {
    throw problem("unauthorized", "key-change oldKey is not the account's key");
  }
  const newTp = await thumbprint(newJwk);
  const conflict = await call.storage.transaction(async (txn) => {
    const taken = await getAcme<{ accountId: string }>(txn, AK.thumbprint(newTp));
    if (taken) return taken.accountId;
    await txn.delete(AK.thumbprint(account.thumbprint));
    await putAcme(txn, AK.thumbprint(newTp), { accountId: account.id });
    await putAcme(txn, AK.account(account.id), { ...account, jwk: newJwk, thumbprint: newTp } satisfies AccountRecord);
    return undefined;
  });
  if (conflict) throw problem("malformed", "the new key is already in use by an account", 409);
  return { json: accountObject(call.dir, { ...account, jwk: newJwk, thumbprint: newTp }), location: urls.account(call.dir, account.id) };
}
