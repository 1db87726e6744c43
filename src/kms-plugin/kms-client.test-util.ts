// A KMS v2 client made at run time from the committed proto (proto-loader), as the API server would call.
import * as grpc from "@grpc/grpc-js";
import { loadKmsV2 } from "./grpc-server.js";

export type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
export interface KmsClient extends grpc.Client {
  Status(req: object, cb: Callback<{ version: string; healthz: string; key_id: string }>): void;
  Encrypt(req: { plaintext: Buffer; uid: string }, cb: Callback<{ ciphertext: Buffer; key_id: string; annotations: Record<string, Buffer> }>): void;
  Decrypt(req: { ciphertext: Buffer; uid: string; key_id: string; annotations?: Record<string, Buffer> }, cb: Callback<{ plaintext: Buffer }>): void;
}

/** A KMS v2 client on `socket`, as the API server would make one. */
export function kmsClient(socket: string): KmsClient {
  const Ctor = (loadKmsV2().v2 as grpc.GrpcObject).KeyManagementService as grpc.ServiceClientConstructor;
  return new Ctor(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as KmsClient;
}

export function unary<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
}

export type StatusReply = { version: string; healthz: string; key_id: string };
