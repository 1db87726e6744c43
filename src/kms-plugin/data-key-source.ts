// Where `arca kms-plugin` gets its data keys: a keychain system's L4 keys over Arca's HTTP API.
//
//   POST <mount>/systems/<name>/datakey {bits: 256}   → {plaintext, ciphertext}   (plaintext base64)
//   POST <mount>/systems/<name>/decrypt {ciphertext}  → {plaintext}
//
// Failures are sorted into two kinds the service treats differently: Arca refused (4xx: the key was
// revoked or disabled, the token lost its policy), after which every cached data key is dropped, and Arca is
// unavailable (transport failure, 5xx, sealed), which is retried on the next call.
import { ApiError, TransportError, type ArcaClient } from "../cli/client.js";

export interface DataKey {
  /** 32 bytes. The owner zeroes it when done. */
  plaintext: Buffer;
  /** Arca's ciphertext of the key (opaque). */
  wrapped: string;
}

export interface DataKeySource {
  generate(): Promise<DataKey>;
  unwrap(wrapped: string): Promise<Buffer>;
}

/** Arca answered, and said no. */
export class DataKeyRefusedError extends Error {}

/** Arca did not answer usefully (down, sealed, overloaded). */
export class DataKeyUnavailableError extends Error {}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class ArcaSystemDataKeys implements DataKeySource {
  private readonly base: string;

  constructor(
    private readonly client: ArcaClient,
    mount: string,
    system: string,
  ) {
    this.base = `${mount.replace(/^\/+|\/+$/g, "")}/systems/${system}`;
  }

  async generate(): Promise<DataKey> {
    const data = await this.post("datakey", { bits: 256 });
    const plaintext = keyBytes(data.plaintext);
    if (typeof data.ciphertext !== "string" || data.ciphertext === "") throw new DataKeyUnavailableError("Arca's datakey reply has no ciphertext");
    return { plaintext, wrapped: data.ciphertext };
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    return keyBytes((await this.post("decrypt", { ciphertext: wrapped })).plaintext);
  }

  private async post(op: string, body: unknown): Promise<Record<string, unknown>> {
    try {
      const secret = await this.client.write(`${this.base}/${op}`, body, "POST");
      const data = secret?.data;
      if (!data || typeof data !== "object") throw new DataKeyUnavailableError(`Arca's ${op} reply has no data`);
      return data;
    } catch (err) {
      // ApiError messages carry the URL and Arca's error text, never the token or the request body.
      if (err instanceof ApiError) {
        if (err.status >= 400 && err.status < 500) throw new DataKeyRefusedError(`Arca refused ${op}: ${err.message}`);
        throw new DataKeyUnavailableError(`Arca failed ${op}: ${err.message}`);
      }
      if (err instanceof TransportError) throw new DataKeyUnavailableError(`Arca unreachable: ${err.message}`);
      throw err;
    }
  }
}

function keyBytes(v: unknown): Buffer {
  if (typeof v !== "string" || !BASE64.test(v)) throw new DataKeyUnavailableError("Arca's data key is not base64");
  const key = Buffer.from(v, "base64");
  if (key.length !== 32) {
    key.fill(0);
    throw new DataKeyUnavailableError("Arca's data key is not 256 bits");
  }
  return key;
}
