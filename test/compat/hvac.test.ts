/**
 * Compatibility with hvac, the Python client (Debian's python3-hvac 0.11.2): scripts in this folder drive
 * an in-process server through hvac and print what they observed as JSON; the assertions live here.
 * hvac was written against Vault, not against us, so every mismatch it trips over is a wire bug.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServer, freshServer } from "../servers.js";
import { hvac, hvacAvailable } from "./hvac-runner.js";
import type { RunningServer } from "../../src/server/server.js";

const available = hvacAvailable("the hvac compatibility suite");

describe.skipIf(!available)("hvac against a fresh server", () => {
  let s: RunningServer & { dir: string };
  beforeAll(async () => {
    s = await freshServer();
  });
  afterAll(async () => s.stop());

  it("initialises, unseals, reports health, seals and unseals again", async () => {
    const r = await hvac("hvac_lifecycle.py", { ARCA_URL: s.url });
    expect(r).toMatchObject({
      initialized_before: false,
      health_head_uninit: 501,
      health_get_uninit_status: 501,
      health_get_uninit_body: { initialized: false, sealed: true, standby: false },
      init_keys: 3,
      init_keys_base64: 3,
      root_token_prefix: "hvs.",
      initialized_after: true,
      sealed_after_init: true,
      health_sealed: 503,
      progress_after_one: 1,
      sealed_after_one: true,
      sealed_after_unseal: false,
      is_sealed: false,
      health_active: { initialized: true, sealed: false, standby: false },
      seal_status_type: "shamir",
      leader_ha: false,
      authenticated: true,
      sealed_after_seal: true,
      sealed_after_reunseal: false,
    });
  });
});

describe.skipIf(!available)("hvac against a dev server", () => {
  let s: RunningServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    s = await devServer();
    env = { ARCA_URL: s.url, ARCA_TOKEN: s.rootToken! };
  });
  afterAll(async () => s.stop());

  it("creates, looks up, renews and revokes tokens", async () => {
    const r = await hvac("hvac_tokens.py", env);
    expect(r).toEqual({
      created: { token_prefix: "hvs.", policies: ["default"], lease_duration: 3600, renewable: true, metadata: { team: "compat" }, has_accessor: true },
      lookup: { id_matches: true, policies: ["default"], display_name: "token-hvac", meta: { team: "compat" }, ttl_positive: true },
      is_authenticated: true,
      lookup_self_accessor_matches: true,
      lookup_accessor_display_name: "token-hvac",
      renew_self_lease_duration: 7200,
      wrapped: { auth_hidden: true, ttl: 60, creation_path: "auth/token/create" },
      wrap_lookup_path: "auth/token/create",
      unwrapped_has_token: true,
      second_unwrap: { exception: "InvalidRequest", errors: ["wrapping token is not valid or does not exist"] },
      after_revoke_is_authenticated: false,
      lookup_self_after_revoke: { exception: "Forbidden", errors: ["permission denied"] },
    });
  });

  it("drives namespaces: sys/namespaces, and a client with namespace= using KV, policies and tokens inside", async () => {
    const name = `hvns${Math.random().toString(36).slice(2, 8)}`;
    const r = await hvac("hvac_namespaces.py", { ...env, ARCA_NS: name });
    expect(r).toEqual({
      created_path: `${name}/`,
      listed: true,
      read_inside: { password: "in-namespace" },
      missing_outside: { exception: "InvalidPath", errors: [] },
      policies_inside: ["app-reader", "default", "root"],
      token_suffix_is_ns_id: true,
      reader_reads: { password: "in-namespace" },
      reader_cannot_write: { exception: "Forbidden", errors: ["permission denied"] },
      token_useless_outside: { exception: "Forbidden", errors: ["permission denied"] },
      lookup_self_inside: ["app-reader", "default"],
      gone: { exception: "InvalidPath", errors: ["namespace not found"] },
    });
  });

  it("writes, reads, lists and deletes policies, and a narrow token meets Forbidden", async () => {
    const r = await hvac("hvac_policies.py", env);
    expect(r).toEqual({
      read_rules_match: true,
      read_name: "compat-reader",
      list: ["compat-json", "compat-reader", "default", "root"],
      allowed_read: { k: "v" },
      forbidden_write: { exception: "Forbidden", errors: ["permission denied"] },
      forbidden_policy_read: { exception: "Forbidden", errors: ["permission denied"] },
      capabilities: ["create", "read", "update"],
      capabilities_self: ["deny"],
      list_after_delete: ["compat-reader", "default", "root"],
      read_missing_policy: { exception: "InvalidPath", errors: [] },
    });
  });

  it("runs the whole KV v2 lifecycle", async () => {
    const r = await hvac("hvac_kv2.py", env);
    const casMismatch = { exception: "InvalidRequest", errors: ["check-and-set parameter did not match the current version"] };
    const notFound = { exception: "InvalidPath", errors: [] };
    expect(r).toEqual({
      config: { cas_required: false, delete_version_after: "0s", max_versions: 5 },
      v1_version: 1,
      cas_zero_again: casMismatch,
      v2_version: 2,
      cas_stale: casMismatch,
      latest: { data: { user: "b", pass: "2" }, version: 2 },
      by_version_1: { user: "a", pass: "1" },
      patched_version: 3,
      after_patch: { user: "b", pass: "3" },
      list_app: ["cache", "db", "nested/"],
      // Other tests share secret/ and run in any order: only our own folder is asserted.
      list_root: expect.arrayContaining(["app/"]),
      list_missing: notFound,
      read_deleted: notFound,
      after_undelete: { user: "b", pass: "3" },
      read_destroyed_v1: notFound,
      metadata: { max_versions: 2, cas_required: true, current_version: 3, oldest_version: 0, versions: ["1", "2", "3"], v1_destroyed: true },
      cas_required_no_cas: { exception: "InvalidRequest", errors: ["check-and-set parameter required for this call"] },
      read_after_metadata_delete: notFound,
      metadata_after_delete: notFound,
      list_after_delete: ["cache", "nested/"],
      missing_secret: notFound,
    });
  });

  it("enables, lists, tunes and disables mounts, and drives KV v1", async () => {
    const r = await hvac("hvac_kv1_mounts.py", env);
    expect(r).toEqual({
      mount_top_level: { type: "kv", description: "hvac v1", options: { version: "1" } },
      mount_in_data: ["compat-kv1/", "compat-kv2/"],
      enable_twice: { exception: "InvalidRequest", errors: ["path is already in use at compat-kv1/"] },
      tuned: { default_lease_ttl: 3600, description: "tuned" },
      kv2_options: "2",
      read: { y: 2, nested: { z: true } },
      list: ["b", "c"],
      list_root: ["a/"],
      read_deleted: { exception: "InvalidPath", errors: [] },
      list_after_delete: ["c"],
      lease_default: 768 * 3600,
      lease_own_ttl: 1800,
      lease_tuned: 7200,
      move_top_level_id: true,
      move_info: { source_mount: "compat-kv2/", target_mount: "compat-kv2-moved/", status: "success" },
      after_move_back: { k: "v" },
      move_onto_used: { exception: "InvalidRequest", errors: ['path already in use at "compat-kv1/"'] },
      after_disable: [],
      read_unmounted: { exception: "InvalidPath", errors: ['no handler for route "compat-kv1/a/c". route entry not found.'] },
    });
  });

  it("OpenBao parity: batch tokens and PKI config/crl read-back", async () => {
    const r = await hvac("hvac_parity.py", env);
    expect(r).toEqual({
      batch_created: { prefix: "hvb.", accessor: "", token_type: "batch", renewable: false, lease_duration: 1800 },
      batch_reads: { v: "1" },
      batch_lookup_self: { type: "batch", accessor: "", renewable: false, policies: ["default", "parity-reader"], orphan: false },
      batch_renew: { exception: "InvalidRequest", errors: ["batch tokens cannot be renewed"] },
      batch_child: { exception: "InvalidRequest", errors: ["batch tokens cannot create more tokens"] },
      batch_num_uses: { exception: "InvalidRequest", errors: ['batch tokens cannot have "num_uses" set'] },
      batch_tampered: { exception: "Forbidden", errors: ["permission denied"] },
      crl_config: { expiry: "48h", ocsp_expiry: "90m", auto_rebuild_grace_period: "6h", delta_rebuild_interval: "15m" },
    });
  });
});
