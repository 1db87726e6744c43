// Starting the repo's sample keystore plugin (src/hsm/plugin/sample-provider-main.ts) as a real child
// process, the way the server does, through tsx so tests need no build.
import { fileURLToPath } from "node:url";

export const SAMPLE_PROVIDER_MAIN = fileURLToPath(new URL("../../src/hsm/plugin/sample-provider-main.ts", import.meta.url));

/** argv that runs the sample provider with the given backend arguments. */
export function sampleProviderCommand(...args: string[]): string[] {
  return [process.execPath, "--import", "tsx", SAMPLE_PROVIDER_MAIN, ...args];
}
