// An in-memory DataKeySource for the KMS plugin's unit tests: counts calls, and can be told to refuse (as
// Arca does once the chain is revoked) or to be unreachable.
import { randomBytes } from "node:crypto";
import { DataKeyRefusedError, DataKeyUnavailableError, type DataKey, type DataKeySource } from "./data-key-source.js";

export class FakeDataKeys implements DataKeySource {
  readonly keys = new Map<string, Buffer>();
  generated = 0;
  unwrapped = 0;
  mode: "ok" | "refuse" | "down" = "ok";

  async generate(): Promise<DataKey> {
    this.check();
    this.generated++;
    const plaintext = randomBytes(32);
    const wrapped = `fake:v1:${randomBytes(16).toString("base64")}`;
    this.keys.set(wrapped, Buffer.from(plaintext));
    return { plaintext, wrapped };
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    this.check();
    this.unwrapped++;
    const k = this.keys.get(wrapped);
    if (!k) throw new DataKeyRefusedError("Arca refused decrypt: unknown ciphertext");
    return Buffer.from(k);
  }

  private check(): void {
    if (this.mode === "refuse") throw new DataKeyRefusedError("Arca refused: key revoked");
    if (this.mode === "down") throw new DataKeyUnavailableError("Arca unreachable");
  }
}
