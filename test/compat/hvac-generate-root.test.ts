/**
 * Root-token generation driven by hvac (Debian's python3-hvac 0.11.2), the way operators script it:
 * start, submit unseal shares, decode the encoded token with the OTP in Python, use the token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, freshServer } from "../servers.js";
import { hvac, hvacAvailable } from "./hvac-runner.js";
import type { RunningServer } from "../../src/server/server.js";

const available = hvacAvailable("the hvac generate-root case");

describe.skipIf(!available)("hvac: generate a root token from unseal keys", () => {
  let s: RunningServer & { dir: string };
  let keys: string[];
  beforeAll(async () => {
    s = await freshServer();
    const init = await api(s.url, "PUT", "sys/init", { body: { secret_shares: 3, secret_threshold: 2 } });
    keys = init.body?.keys as string[];
    for (const key of keys.slice(0, 2)) await api(s.url, "PUT", "sys/unseal", { body: { key } });
  });
  afterAll(async () => s.stop());

  it("starts, submits shares, decodes with the OTP and uses the token", async () => {
    const r = await hvac("hvac_generate_root.py", { ARCA_URL: s.url, ARCA_KEYS: [keys[2], keys[0]].join(",") });
    expect(r).toEqual({
      idle: { started: false, progress: 0, required: 2, otp_length: 28, complete: false },
      cancel_status: 204,
      started_after_cancel: false,
      otp_length: 28,
      start_otp_length_field: 28,
      second_start: { exception: "InvalidRequest", errors: ["root generation already in progress"] },
      wrong_nonce: { exception: "InvalidRequest", errors: [expect.stringMatching(/^incorrect nonce supplied/) as unknown] },
      after_one: { progress: 1, required: 2, complete: false },
      progress_read: 1,
      complete: true,
      encoded_same: true,
      token_prefix: "hvs.",
      token_length: 28,
      authenticated: true,
      policies: ["root"],
      started_after_complete: false,
    });
  });
});
