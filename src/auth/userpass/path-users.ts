/**
 * userpass users (`users`, `users/:username`, `users/:username/password`, `users/:username/policies`),
 * as OpenBao's builtin/credential/userpass. Usernames are case-insensitive (stored lower-cased). No
 * response ever carries the password or its hash.
 */
import { ArcaError, notFound, unsupportedPath } from "../../common/errors.js";
import { definePath, type HandlerContext, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import type { Response } from "../../core/framework/request.js";
import { getJson, putJson } from "../../core/view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { LEGACY_TOKEN_FIELDS, TOKEN_FIELDS, defaultTokenParams, parseTokenFields, tokenData, type TokenParams } from "../token-fields.js";
import { hashPassword } from "./password.js";

const badRequest = (msg: string): ArcaError => new ArcaError("invalid_request", msg);

/** OpenBao's framework.GenericNameRegex. */
const USERNAME = /^\w(?:[\w.-]*\w)?$/;

export interface UserEntry extends TokenParams {
  /** `$scrypt$…` (see password.ts). */
  passwordHash: string;
}

export function userKey(username: string): string {
  if (!USERNAME.test(username) || username.length > 512) throw unsupportedPath();
  return `user/${username.toLowerCase()}`;
}

export function readUser(storage: KeyValueStore, username: string): Promise<UserEntry | undefined> {
  return getJson<UserEntry>(storage, userKey(username));
}

const PASSWORD_FIELDS = {
  password: { type: "string", description: "Password for this user." },
  password_hash: { type: "string", description: "Pre-hashed (bcrypt) password for this user; not supported by this server." },
} as const satisfies Fields;

const USER_FIELDS = {
  username: { type: "string", required: true, description: "Username for this user." },
  ...PASSWORD_FIELDS,
  ...TOKEN_FIELDS,
  ...LEGACY_TOKEN_FIELDS,
} as const satisfies Fields;

type UserCtx = HandlerContext<typeof USER_FIELDS>;

/** Hashes the supplied password; bcrypt `password_hash` imports are refused (no verifier here). */
async function passwordFrom(fields: { password?: string; password_hash?: string }): Promise<string | undefined> {
  if (fields.password_hash !== undefined && fields.password_hash !== "") {
    throw badRequest("password_hash is not supported by this server: set a password instead");
  }
  if (fields.password === undefined) return undefined;
  if (fields.password === "") throw badRequest("missing password");
  return hashPassword(fields.password);
}

async function writeUser(ctx: UserCtx): Promise<Response | undefined> {
  const key = userKey(ctx.fields.username);
  const existing = await getJson<UserEntry>(ctx.storage, key);
  const hash = await passwordFrom(ctx.fields);
  if (!existing && hash === undefined) throw badRequest("missing password");
  const user: UserEntry = existing ?? { ...defaultTokenParams(), passwordHash: "" };
  const warnings = parseTokenFields(
    user,
    { get: (n) => (ctx.fields as Record<string, unknown>)[n], has: (n) => ctx.has(n) },
    ["policies", "ttl", "max_ttl", "bound_cidrs"],
  );
  if (hash !== undefined) user.passwordHash = hash;
  await putJson(ctx.storage, key, user);
  return warnings.length > 0 ? { warnings } : undefined;
}

function userData(user: UserEntry): Record<string, unknown> {
  const data = tokenData(user);
  // Backwards-compatible keys, only when the deprecated field was written (as OpenBao's pathUserRead).
  if (user.ttl > 0) data.ttl = user.ttl;
  if (user.maxTtl > 0) data.max_ttl = user.maxTtl;
  if (user.policies.length > 0) data.policies = user.policies;
  if (user.boundCidrs.length > 0) data.bound_cidrs = user.boundCidrs;
  return data;
}

async function existingUser(storage: KeyValueStore, username: string): Promise<UserEntry> {
  const user = await readUser(storage, username);
  if (!user) throw badRequest("username does not exist");
  return user;
}

async function listUsers(storage: KeyValueStore): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await storage.list("user/", { after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1];
  }
}

export function userPaths(): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "users",
      operations: { list: async (ctx) => ({ data: { keys: await listUsers(ctx.storage) } }) },
      synopsis: "Manage users allowed to authenticate.",
    }),
    definePath({
      pattern: "users/:username",
      fields: USER_FIELDS,
      existenceCheck: async (ctx) => (await readUser(ctx.storage, ctx.params.username)) !== undefined,
      operations: {
        read: async (ctx) => {
          const user = await readUser(ctx.storage, ctx.params.username);
          if (!user) throw notFound();
          return { data: userData(user) };
        },
        create: writeUser,
        update: writeUser,
        delete: async (ctx) => {
          await ctx.storage.delete(userKey(ctx.params.username));
          return undefined;
        },
      },
      synopsis: "Manage users allowed to authenticate.",
      description: "This endpoint allows you to create, read, update, and delete users that are allowed to authenticate.",
    }),
    definePath({
      pattern: "users/:username/password",
      fields: { username: { type: "string", required: true, description: "Username for this user." }, ...PASSWORD_FIELDS },
      operations: {
        update: async (ctx) => {
          const user = await existingUser(ctx.storage, ctx.fields.username);
          const hash = await passwordFrom(ctx.fields);
          if (hash === undefined) throw badRequest("missing password");
          user.passwordHash = hash;
          await putJson(ctx.storage, userKey(ctx.fields.username), user);
          return undefined;
        },
      },
      synopsis: "Reset user's password.",
    }),
    definePath({
      pattern: "users/:username/policies",
      fields: {
        username: { type: "string", required: true, description: "Username for this user." },
        token_policies: TOKEN_FIELDS.token_policies,
        policies: LEGACY_TOKEN_FIELDS.policies,
      },
      operations: {
        update: async (ctx) => {
          const user = await existingUser(ctx.storage, ctx.fields.username);
          const warnings = parseTokenFields(
            user,
            { get: (n) => (ctx.fields as Record<string, unknown>)[n], has: (n) => (n === "token_policies" || n === "policies") && ctx.has(n) },
            ["policies"],
          );
          await putJson(ctx.storage, userKey(ctx.fields.username), user);
          return warnings.length > 0 ? { warnings } : undefined;
        },
      },
      synopsis: "Update the policies associated with the username.",
    }),
  ];
}
