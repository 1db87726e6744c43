/**
 * Bounds on what one caller can make the server hold or compute (DESIGN.md §8: one caller cannot stall
 * the others). Each is set in the server config's `limits` block and answered with a 400 naming the
 * setting when exceeded.
 *
 * Defaults are generous for real use: large real-world ACL policies run to a few hundred path rules and
 * tens of KiB; a namespace costs ~43 KB of memory and a key version one more entry rewritten on every
 * rotation of its key.
 */
export interface InputLimits {
  /** Bytes of one ACL policy's text (`limits.max_policy_bytes`). */
  maxPolicyBytes: number;
  /** Path rules in one ACL policy (`limits.max_policy_paths`). */
  maxPolicyPaths: number;
  /** Namespaces directly below one namespace (`limits.max_namespaces_per_parent`). */
  maxNamespacesPerParent: number;
  /** Live (untrimmed) versions of one transit key (`limits.max_transit_key_versions`). */
  maxTransitKeyVersions: number;
}

export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = Object.freeze({
  maxPolicyBytes: 128 * 1024,
  maxPolicyPaths: 1000,
  maxNamespacesPerParent: 1000,
  maxTransitKeyVersions: 1000,
});

/** Config-file names of the limits, for messages that tell an operator what to raise. */
export const LIMIT_SETTING: Readonly<Record<keyof InputLimits, string>> = Object.freeze({
  maxPolicyBytes: "max_policy_bytes",
  maxPolicyPaths: "max_policy_paths",
  maxNamespacesPerParent: "max_namespaces_per_parent",
  maxTransitKeyVersions: "max_transit_key_versions",
});
