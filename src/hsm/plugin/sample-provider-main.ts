// The sample keystore plugin: a process that serves one of Arca's own KeyManagers over the plugin protocol,
// for tests and as a template for writing providers. Run by the server (keystore plugin `command`), it
// listens on the socket path in ARCA_KEYSTORE_PLUGIN_SOCKET.
//
//   node dist/hsm/plugin/sample-provider-main.js software-not-hsm
//       in-memory node:crypto keys (NOT AN HSM: keys vanish with the process; development only)
//   node dist/hsm/plugin/sample-provider-main.js pkcs11 <module.so> <token label>
//       a PKCS#11 token through Pkcs11KeyManager; the user PIN comes from ARCA_SAMPLE_PKCS11_PIN
//       (never argv: argv shows in `ps`)
import { SOCKET_ENV } from "./protocol.js";
import { serveKeyManager } from "./provider-server.js";
import { sampleBackend } from "./sample-provider.js";

const USAGE = "usage: sample-provider-main (software-not-hsm | pkcs11 <module.so> <token label>)\n";

async function main(): Promise<void> {
  const socketPath = process.env[SOCKET_ENV];
  if (!socketPath) {
    process.stderr.write(`${SOCKET_ENV} is not set (the server sets it when it starts the plugin)\n`);
    process.exit(2);
  }
  const b = sampleBackend(process.argv.slice(2));
  if (!b) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  const provider = await serveKeyManager(b.km, { name: b.name, socketPath });
  const stop = () => {
    void provider
      .close()
      .then(() => b.km.close())
      .finally(() => {
        b.close();
        process.exit(0);
      });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

void main();
