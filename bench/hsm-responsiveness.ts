/**
 * Does the server stay responsive while the HSM works flat out? sys/health latency over HTTP (wrk, 4
 * connections) on an idle dev server, then again while RSA-4096 signatures run back to back through the
 * KeyManager in the same process (pkcs11js async calls on the libuv threadpool), `--signers` callers
 * queued on the token's default session pool. Aim: p99 < 20 ms.
 *
 *   npx tsx bench/hsm-responsiveness.ts [--seconds 5] [--signers 4]
 */
import { parseArgs } from "node:util";
import { createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON, cleanupSoftHsm } from "../test/softhsm.js";
import { HsmRegistry } from "../dist/hsm/hsm-registry.js";
import { Pkcs11KeyManager } from "../dist/hsm/pkcs11-key-manager.js";
import { startDevServer } from "../dist/server/server.js";
import { createLogger } from "../dist/server/log.js";
import { printTable, requireWrk, runWrk } from "./wrk.js";

const { values: args } = parseArgs({ options: { seconds: { type: "string", default: "5" }, signers: { type: "string", default: "4" } } });
const seconds = Number(args.seconds);
const signers = Number(args.signers);

async function main(): Promise<void> {
  requireWrk();
  if (!softHsmAvailable()) {
    console.log(SOFTHSM_SKIP_REASON);
    return;
  }
  const t = createSoftHsmToken({ label: "bench-resp" });
  // Default session count, as a server would run it (see defaultSessions in src/hsm/token.ts).
  const km = new Pkcs11KeyManager({ tokens: new HsmRegistry([{ name: "bench", lib: t.libPath, tokenLabel: t.label, pin: t.pin }]) });
  const key = await km.createKey({ algorithm: "rsa-4096", label: "bench-rsa4096" });
  const signer = await km.createSigner(key.uri);
  const server = await startDevServer({ listenAddress: "127.0.0.1:0", logger: createLogger("error", () => undefined) });
  try {
    const idle = await runWrk("sys/health, HSM idle", `${server.url}/v1/sys/health`, { connections: 4, seconds });
    let running = true;
    let signatures = 0;
    const loops = Array.from({ length: signers }, async () => {
      while (running) {
        await signer.sign(Buffer.from("keep the HSM busy"));
        signatures++;
      }
    });
    const started = Date.now();
    const busy = await runWrk(`sys/health, RSA-4096 ×${signers} in flight`, `${server.url}/v1/sys/health`, { connections: 4, seconds });
    running = false;
    await Promise.all(loops);
    const rate = signatures / ((Date.now() - started) / 1000);
    printTable([idle, busy], idle);
    console.log(`\nRSA-4096 signatures during the busy run: ${rate.toFixed(0)}/s; health p99 while busy: ${busy.p99Ms.toFixed(2)} ms (aim < 20 ms)`);
  } finally {
    await server.stop();
    await km.close();
    cleanupSoftHsm();
  }
}

await main();
