// The key-manager conformance suite through the keystore plugin protocol: the server-side PluginKeyManager
// talking to the sample provider in its own process (software keys, and SoftHSM through Pkcs11KeyManager).
import { describe } from "vitest";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../../../test/softhsm.js";
import { sampleProviderCommand } from "../../../test/keystore-plugins/sample-provider.js";
import { keyManagerCase } from "../key-manager.case.js";
import { KEY_ALGORITHMS } from "../key-manager.js";
import { startKeystorePlugin } from "./plugin-key-manager.js";
import { SAMPLE_PIN_ENV } from "./sample-provider.js";

keyManagerCase(
  "keystore plugin (sample provider, software-not-hsm)",
  async () => ({ km: await startKeystorePlugin({ name: "sample", command: sampleProviderCommand("software-not-hsm") }) }),
  { algorithms: [...KEY_ALGORITHMS], hardware: false, oaepSha256: true },
);

const available = softHsmAvailable();

describe.skipIf(!available)(available ? "SoftHSM" : SOFTHSM_SKIP_REASON, () => {
  keyManagerCase(
    "keystore plugin (sample provider, pkcs11 on SoftHSM)",
    async () => {
      const t = createSoftHsmToken({ label: "plugin-case" });
      const km = await startKeystorePlugin({
        name: "sample-hsm",
        command: sampleProviderCommand("pkcs11", t.libPath, t.label),
        env: { SOFTHSM2_CONF: t.conf, [SAMPLE_PIN_ENV]: t.pin },
      });
      return { km, cleanup: () => cleanupSoftHsm() };
    },
    { algorithms: [...KEY_ALGORITHMS], hardware: true, oaepSha256: false },
  );
});
