// The CLI run from the TypeScript sources (`node --import tsx test/arca-cli.ts …`), for tests that need the
// `arca` command in a process of its own (bin/arca runs the built dist/).
import { main } from "../src/cli/main.js";

await main(process.argv.slice(2));
