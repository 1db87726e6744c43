/**
 * Stored ACL policies and the ACL cache. Policies live in the barrier below `sys/policy/` as
 * `acl/<name>` = { name, policy (text as written), version, modified, cas_required }.
 * Parsed policies and built ACLs are cached; every change goes through this class, which drops the
 * affected cache entries.
 */
import { ArcaError } from "../../common/errors.js";
import { DEFAULT_INPUT_LIMITS, LIMIT_SETTING, type InputLimits } from "../limits.js";
import { HclParserBusy } from "../../common/hcl/hcl.js";
import { getJson, putJson } from "../view.js";
import type { KeyValueStore } from "../../storage/storage.js";
import { ACL } from "./acl.js";
import {
  DEFAULT_POLICY_NAME,
  DEFAULT_POLICY_TEXT,
  IMMUTABLE_POLICIES,
  ROOT_POLICY,
  RESPONSE_WRAPPING_POLICY_NAME,
  ROOT_POLICY_NAME,
  UNDELETABLE_POLICIES,
  responseWrappingPolicy,
} from "./builtin.js";
import { normalisePolicyName, parsePolicy, PolicyParseError, type Policy } from "./policy.js";

export interface StoredPolicy {
  name: string;
  policy: string;
  version: number;
  modified: string;
  cas_required: boolean;
}

const ACL_CACHE_LIMIT = 10_000;

function isValidPolicyName(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return name !== "" && name.length <= 256 && !/[/\s\x00-\x1f\x7f]/.test(name) && name !== "." && name !== "..";
}

export class PolicyStore {
  private readonly parsed = new Map<string, Policy>();
  private readonly acls = new Map<string, ACL>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly limits: Pick<InputLimits, "maxPolicyBytes" | "maxPolicyPaths"> = DEFAULT_INPUT_LIMITS,
  ) {}

  async setup(): Promise<void> {
    this.parsed.clear();
    this.acls.clear();
    if (!(await this.store.get(`acl/${DEFAULT_POLICY_NAME}`))) {
      await this.write(DEFAULT_POLICY_NAME, DEFAULT_POLICY_TEXT, {}, { builtin: true });
    }
  }

  /** Another server changed policy `name` (HA): its parsed form and the ACLs built with it are dropped. */
  dropCached(name: string): void {
    this.parsed.delete(name);
    this.invalidate(name);
  }

  teardown(): void {
    this.parsed.clear();
    this.acls.clear();
  }

  async list(): Promise<string[]> {
    const names = await this.store.list("acl/");
    return [...new Set([...names, ROOT_POLICY_NAME])].sort();
  }

  async read(rawName: string): Promise<StoredPolicy | undefined> {
    const name = normalisePolicyName(rawName);
    if (!isValidPolicyName(name)) return undefined; // a name that could never be written does not exist
    if (name === ROOT_POLICY_NAME) return { name, policy: "", version: 0, modified: "", cas_required: false };
    return getJson<StoredPolicy>(this.store, `acl/${name}`);
  }

  /** Parses and stores a policy; `cas` (if given) must equal the stored version. The input limits apply
   * to every policy but the built-in ones the server writes itself. */
  async write(rawName: string, text: string, opts: { cas?: number; casRequired?: boolean }, source: { builtin?: boolean } = {}): Promise<StoredPolicy> {
    const name = normalisePolicyName(rawName);
    if (!isValidPolicyName(name)) throw new ArcaError("invalid_request", "invalid policy name");
    if (IMMUTABLE_POLICIES.includes(name)) throw new ArcaError("invalid_request", `cannot update ${name} policy`);
    // Bounded before parsing: parse and ACL cost grow with the text, and the text is a tenant's to choose.
    const bytes = Buffer.byteLength(text, "utf8");
    if (!source.builtin && bytes > this.limits.maxPolicyBytes) {
      throw new ArcaError(
        "invalid_request",
        `policy is ${bytes} bytes; the limit is ${this.limits.maxPolicyBytes} (server config limits.${LIMIT_SETTING.maxPolicyBytes})`,
      );
    }
    let policy: Policy;
    try {
      policy = await parsePolicy(name, text);
    } catch (err) {
      if (err instanceof PolicyParseError) throw new ArcaError("invalid_request", `failed to parse policy: ${err.message}`);
      if (err instanceof HclParserBusy) throw new ArcaError("unavailable", "policy parser busy; retry shortly");
      throw err;
    }
    if (!source.builtin && policy.paths.length > this.limits.maxPolicyPaths) {
      throw new ArcaError(
        "invalid_request",
        `policy has ${policy.paths.length} path rules; the limit is ${this.limits.maxPolicyPaths} (server config limits.${LIMIT_SETTING.maxPolicyPaths})`,
      );
    }
    const stored = await this.store.transaction(async (txn) => {
      const cur = await getJson<StoredPolicy>(txn, `acl/${name}`);
      const casRequired = opts.casRequired ?? cur?.cas_required ?? false;
      if ((casRequired || cur?.cas_required) && opts.cas === undefined) {
        throw new ArcaError("invalid_request", "check-and-set parameter required for this call");
      }
      if (opts.cas !== undefined && opts.cas !== (cur?.version ?? 0)) {
        throw new ArcaError("invalid_request", "check-and-set parameter did not match the current version");
      }
      const next: StoredPolicy = {
        name,
        policy: text,
        version: (cur?.version ?? 0) + 1,
        modified: new Date().toISOString(),
        cas_required: casRequired,
      };
      await putJson(txn, `acl/${name}`, next);
      return next;
    });
    this.parsed.set(name, policy);
    this.invalidate(name);
    return stored;
  }

  async delete(rawName: string): Promise<void> {
    const name = normalisePolicyName(rawName);
    if (UNDELETABLE_POLICIES.includes(name)) throw new ArcaError("invalid_request", `cannot delete "${name}" policy`);
    await this.store.delete(`acl/${name}`);
    this.parsed.delete(name);
    this.invalidate(name);
  }

  /** The ACL for a token's policy set (cached; unknown policy names grant nothing). */
  async aclFor(names: readonly string[]): Promise<ACL> {
    const key = names.join("\n");
    const cached = this.acls.get(key);
    if (cached) return cached;
    let acl: ACL;
    if (names.includes(ROOT_POLICY_NAME)) acl = new ACL([ROOT_POLICY]);
    else {
      const policies: Policy[] = [];
      for (const n of names) {
        const p = await this.load(n);
        if (p) policies.push(p);
      }
      acl = new ACL(policies);
    }
    if (this.acls.size >= ACL_CACHE_LIMIT) this.acls.clear();
    this.acls.set(key, acl);
    return acl;
  }

  /**
   * Whether any of the policies grants something below `mountPoint` (OpenBao's hasMountAccess, used by
   * sys/internal/ui/mounts): a rule inside the mount, or a glob that covers it.
   */
  async hasMountAccess(names: readonly string[], mountPoint: string): Promise<boolean> {
    for (const n of names) {
      const p = await this.load(n);
      if (!p) continue;
      for (const rule of p.paths) {
        if (rule.capabilities.length === 0 || rule.capabilities.every((c) => c === "deny")) continue;
        if (rule.pattern.startsWith(mountPoint) || (rule.isPrefix && mountPoint.startsWith(rule.path))) return true;
        if (rule.hasSegmentWildcards && globCovers(rule.pattern, mountPoint)) return true;
      }
    }
    return false;
  }

  private async load(name: string): Promise<Policy | undefined> {
    if (!isValidPolicyName(name)) return undefined;
    const hit = this.parsed.get(name);
    if (hit) return hit;
    if (name === RESPONSE_WRAPPING_POLICY_NAME) {
      // Built in and immutable: never stored, always the text in builtin.ts.
      const builtin = await responseWrappingPolicy();
      this.parsed.set(name, builtin);
      return builtin;
    }
    const stored = await getJson<StoredPolicy>(this.store, `acl/${name}`);
    if (!stored) return undefined;
    const policy = await parsePolicy(name, stored.policy);
    this.parsed.set(name, policy);
    return policy;
  }

  private invalidate(name: string): void {
    for (const key of this.acls.keys()) if (key.split("\n").includes(name)) this.acls.delete(key);
  }
}

/** Whether a `+`-segment pattern can match paths below `mountPoint`. */
function globCovers(pattern: string, mountPoint: string): boolean {
  const mp = mountPoint.replace(/\/$/, "").split("/");
  const pp = pattern.split("/");
  for (let i = 0; i < mp.length; i++) {
    const seg = pp[i];
    if (seg === undefined) return false;
    if (seg === "+") continue;
    if (seg.endsWith("*")) return mp[i].startsWith(seg.slice(0, -1));
    if (seg !== mp[i]) return false;
  }
  return true;
}
