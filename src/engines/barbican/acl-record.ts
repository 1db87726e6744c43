/**
 * Barbican's per-resource ACL (only the `read` operation exists): `project-access` false restricts reads to
 * the listed users, the creator and the project's admins.
 */
import { badRequest } from "./barbican-error.js";

export interface AclRecord {
  projectAccess: boolean;
  users: string[];
  created: string;
  updated: string;
}

export function renderAcl(acl: AclRecord | null): Record<string, unknown> {
  if (acl === null) return { read: { "project-access": true } };
  return { read: { updated: acl.updated, "project-access": acl.projectAccess, users: acl.users, created: acl.created } };
}

/** The `read` entry of a PUT/PATCH body; `base` is the ACL being patched (PUT starts from none). */
export function parseAclBody(body: Record<string, unknown>, base: AclRecord | null, now: string): AclRecord {
  for (const key of Object.keys(body)) {
    if (key !== "read") throw badRequest(`Provided object does not match schema 'ACL': Additional properties are not allowed ('${key}' was unexpected). Invalid property: '${key}'`);
  }
  const read = body.read ?? {};
  if (typeof read !== "object" || read === null || Array.isArray(read)) throw badRequest("Provided object does not match schema 'ACL': 'read' is not of type 'object'. Invalid property: 'read'");
  const r = read as Record<string, unknown>;
  let users = base?.users ?? [];
  if (r.users !== undefined) {
    if (!Array.isArray(r.users) || !r.users.every((u) => typeof u === "string" && u.length > 0 && u.length <= 255) || r.users.length > 1000) {
      throw badRequest("Provided object does not match schema 'ACL': 'users' is not a list of user ids. Invalid property: 'users'");
    }
    users = [...new Set(r.users as string[])];
  }
  let projectAccess = base?.projectAccess ?? true;
  if (r["project-access"] !== undefined) {
    if (typeof r["project-access"] !== "boolean") throw badRequest("Provided object does not match schema 'ACL': 'project-access' is not of type 'boolean'. Invalid property: 'project-access'");
    projectAccess = r["project-access"];
  }
  return { projectAccess, users, created: base?.created ?? now, updated: now };
}

/** Whether `user` may read a resource under `acl` (the creator and project admins always may). */
export function aclAllowsRead(acl: AclRecord | null, user: string | null, creator: string | null, admin: boolean): boolean {
  if (acl === null || acl.projectAccess || admin) return true;
  if (user === null) return false;
  return user === creator || acl.users.includes(user);
}
