/**
 * `POST auth/<mount>/login/:username {password}`. Unknown user and wrong password answer the same
 * 400 "invalid username or password" after the same work (one full KDF either way), so neither the
 * message nor the timing tells whether the user exists. Users are locked out after repeated failures
 * (per mount, whatever the source) and each source address is limited (login-limiter.ts).
 */
import { ArcaError } from "../../common/errors.js";
import { definePath, type PathSpec } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { issueLoginToken } from "../token-fields.js";
import { normaliseAddress } from "../../core/cidr.js";
import type { UserpassEnv } from "./userpass-env.js";
import { burnPasswordCheck, verifyPassword } from "./password.js";
import type { LockoutPolicy } from "./login-limiter.js";
import { effectiveUserLockout } from "../../core/mounts.js";
import { readUser, userKey } from "./path-users.js";

/** The mount's lockout settings as they are now (a tune applies to the next attempt). */
function lockoutPolicy(env: UserpassEnv): LockoutPolicy {
  const c = effectiveUserLockout(env.view.mount().config.userLockout);
  return { threshold: c.threshold, durationMs: c.durationSeconds * 1000, counterResetMs: c.counterResetSeconds * 1000, disabled: c.disabled };
}

const invalidCredentials = (): ArcaError => new ArcaError("invalid_request", "invalid username or password");

export function loginPaths(env: UserpassEnv): PathSpec<Fields>[] {
  return [
    definePath({
      pattern: "login/:username",
      fields: {
        username: { type: "string", required: true, description: "Username of the user." },
        password: { type: "string", description: "Password for this user." },
      },
      operations: {
        update: async (ctx) => {
          userKey(ctx.fields.username); // 404 for names that are not a route, before any work
          const username = ctx.fields.username.toLowerCase();
          const password = ctx.fields.password ?? "";
          if (password === "") throw new ArcaError("invalid_request", "missing password");
          const succeeded = env.limiter.begin(username, normaliseAddress(ctx.req.remoteAddress), lockoutPolicy(env));

          const user = await readUser(ctx.storage, username);
          if (!user) {
            await burnPasswordCheck(password);
            throw invalidCredentials();
          }
          if (!(await verifyPassword(password, user.passwordHash))) throw invalidCredentials();
          succeeded();
          return issueLoginToken({
            view: env.view,
            req: ctx.req,
            params: user,
            meta: { username },
            displayName: username,
          });
        },
      },
      synopsis: "Log in with a username and password.",
      description: "Returns a token carrying the user's policies and token settings.",
    }),
  ];
}
