/**
 * Barbican's default roles as Arca ACL policies, written into every project namespace that serves the
 * Barbican API. Grant them to tokens (or, in dev-mode noauth, name them in X-Roles):
 *   barbican-admin     everything in the project, quotas included
 *   barbican-creator   create, read, update and delete secrets, containers, orders; not quotas
 *   barbican-observer  read and list, payloads included (Barbican's observer may decrypt)
 *   barbican-audit     metadata only: read and list, never a payload
 * A project's admin also reads past restrictive per-secret ACLs (engines/barbican/barbican-env.ts).
 */
export const ROLE_POLICIES: Readonly<Record<string, string>> = {
  "barbican-admin": `path "barbican/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }`,
  "barbican-creator": `
path "barbican/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }
path "barbican/project-quota" { capabilities = ["deny"] }
`,
  "barbican-observer": `path "barbican/*" { capabilities = ["read", "list"] }`,
  "barbican-audit": `
path "barbican/*" { capabilities = ["read", "list"] }
path "barbican/secrets/+/payload" { capabilities = ["deny"] }
`,
};

/** Barbican role names (X-Roles) → the policy that stands for each. */
export function policiesForRoles(roles: string[]): string[] {
  const out: string[] = [];
  for (const r of roles) {
    const name = `barbican-${r.trim().toLowerCase()}`;
    if (Object.hasOwn(ROLE_POLICIES, name) && !out.includes(name)) out.push(name);
  }
  return out;
}
