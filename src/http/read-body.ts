/**
 * Request bodies read within the listener's size limit (413 beyond it), for every wire format.
 */
import type { IncomingMessage } from "node:http";
import { ArcaError } from "../common/errors.js";

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new ArcaError("payload_too_large", "request body too large"));
  // With a declared length within the limit (Node's parser holds the body to that length) the body is
  // read with plain stream events: an async iterator over the request cost a few percent of a small
  // request's CPU. Without one (chunked), the limit is enforced while iterating.
  if (declared !== undefined && Number(declared) <= limit) return readDeclared(req, limit);
  return readStreamed(req, limit);
}

async function readStreamed(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ArcaError("payload_too_large", "request body too large");
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function readDeclared(req: IncomingMessage, limit: number): Promise<Buffer> {
  // Nothing left to read (an iterator would end at once, with no chunk).
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      // Not expected (the parser enforces the declared length); refused all the same.
      if (size > limit) {
        done();
        reject(new ArcaError("payload_too_large", "request body too large"));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    // Closed with neither an end nor an error: the body was cut short.
    const onClose = (): void => {
      done();
      reject(Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
