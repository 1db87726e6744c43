/**
 * What the benchmarks measure against, in the same run: a bare node:http hello-world server, and raw
 * pkcs11js sessions on a SoftHSM token (no KeyManager, no pool, no retries).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pkcs11js from "pkcs11js";
import { loadPkcs11Module, pk, type Handle } from "../dist/hsm/module.js";

export async function startBareServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("hello world\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * A second pkcs11js binding on the same library (C_Initialize is shared, so ALREADY_INITIALIZED is
 * expected) with its own sessions, already logged in: login is per application and token.
 */
export function openRawSessions(libPath: string, tokenLabel: string, count: number): { p11: pkcs11js.PKCS11; sessions: Handle[] } {
  const p11 = new pkcs11js.PKCS11();
  p11.load(libPath);
  try {
    p11.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (!/ALREADY_INITIALIZED/.test((e as Error).message)) throw e;
  }
  const slot = loadPkcs11Module(libPath).findToken({ label: tokenLabel }).slot;
  return { p11, sessions: Array.from({ length: count }, () => p11.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION)) };
}
