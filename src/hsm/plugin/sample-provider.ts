// The sample keystore plugin's backends (sample-provider-main.ts runs them): one of Arca's own KeyManagers.
import { HsmRegistry } from "../hsm-registry.js";
import type { KeyManager } from "../key-manager.js";
import { Pkcs11KeyManager } from "../pkcs11-key-manager.js";
import { SoftwareKeyManagerNotHsm } from "../software-key-manager.js";

export const SAMPLE_PIN_ENV = "ARCA_SAMPLE_PKCS11_PIN";

export interface SampleBackend {
  name: string;
  km: KeyManager;
  close(): void;
}

/** The backend the arguments name, or undefined when they name none. */
export function sampleBackend(argv: string[]): SampleBackend | undefined {
  const [kind, lib, token] = argv;
  if (kind === "software-not-hsm" && argv.length === 1) return { name: "sample-software-not-hsm", km: new SoftwareKeyManagerNotHsm(), close: () => undefined };
  if (kind === "pkcs11" && argv.length === 3) {
    const registry = new HsmRegistry([{ name: "sample", lib, tokenLabel: token, pinEnv: SAMPLE_PIN_ENV }]);
    return { name: "sample-pkcs11", km: new Pkcs11KeyManager({ tokens: registry }), close: () => registry.close() };
  }
  return undefined;
}

