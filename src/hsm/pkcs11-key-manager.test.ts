// The conformance suite against real SoftHSM, through the same code path a hardware HSM uses.
import { describe } from "vitest";
import { cleanupSoftHsm, createSoftHsmToken, softHsmAvailable, SOFTHSM_SKIP_REASON } from "../../test/softhsm.js";
import { HsmRegistry } from "./hsm-registry.js";
import { keyManagerCase } from "./key-manager.case.js";
import { KEY_ALGORITHMS } from "./key-manager.js";
import { Pkcs11KeyManager } from "./pkcs11-key-manager.js";

const available = softHsmAvailable();

describe.skipIf(!available)(available ? "SoftHSM" : SOFTHSM_SKIP_REASON, () => {
  keyManagerCase(
    "pkcs11 (SoftHSM)",
    async () => {
      const t = createSoftHsmToken({ label: "km-case" });
      const registry = new HsmRegistry([{ name: "soft", lib: t.libPath, tokenLabel: t.label, pin: t.pin }]);
      return {
        km: new Pkcs11KeyManager({ tokens: registry }),
        cleanup: () => {
          registry.close();
          cleanupSoftHsm();
        },
      };
    },
    // SoftHSM 2.6.1 has CKM_EDDSA, so every algorithm is expected here.
    { algorithms: [...KEY_ALGORITHMS], hardware: true, oaepSha256: false },
  );
});
