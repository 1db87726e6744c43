// The Kubernetes KMS v2 gRPC service (proto/k8s.io/kms/apis/v2/api.proto) on a unix socket, over KmsService.
// Errors become gRPC status codes with short messages; nothing logs payloads, plaintexts or data keys.
import { chmod, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { DataKeyRefusedError, DataKeyUnavailableError } from "./data-key-source.js";
import { EnvelopeError } from "./envelope.js";
import type { KmsService } from "./kms-service.js";

/** The same relative place from src/kms-plugin and from dist/kms-plugin. */
export const KMS_V2_PROTO = fileURLToPath(new URL("../../proto/k8s.io/kms/apis/v2/api.proto", import.meta.url));

/** Largest request accepted: an encrypted Kubernetes object is bounded by etcd's 1.5 MiB request limit. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

export function loadKmsV2(): grpc.GrpcObject {
  return grpc.loadPackageDefinition(protoLoader.loadSync(KMS_V2_PROTO, PROTO_LOADER_OPTIONS));
}

export interface KmsGrpcServer {
  close(): Promise<void>;
}

interface EncryptRequest {
  plaintext: Buffer;
  uid: string;
}

interface DecryptRequest {
  ciphertext: Buffer;
  uid: string;
  key_id: string;
  annotations: Record<string, Buffer>;
}

type Unary<Req> = grpc.handleUnaryCall<Req, unknown>;

export async function startKmsGrpcServer(service: KmsService, socketPath: string): Promise<KmsGrpcServer> {
  const v2 = loadKmsV2().v2 as grpc.GrpcObject;
  const definition = (v2.KeyManagementService as grpc.ServiceClientConstructor).service;
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES });
  const status: Unary<object> = (_call, done) => {
    service.status().then(
      (s) => done(null, { version: s.version, healthz: s.healthz, key_id: s.keyId }),
      (err: unknown) => done(grpcError(err)),
    );
  };
  const encrypt: Unary<EncryptRequest> = (call, done) => {
    service.encrypt(call.request.plaintext).then(
      (r) => done(null, { ciphertext: r.ciphertext, key_id: r.keyId, annotations: {} }),
      (err: unknown) => done(grpcError(err)),
    );
  };
  const decrypt: Unary<DecryptRequest> = (call, done) => {
    service.decrypt(call.request.ciphertext).then(
      (plaintext) => done(null, { plaintext }),
      (err: unknown) => done(grpcError(err)),
    );
  };
  server.addService(definition, { Status: status, Encrypt: encrypt, Decrypt: decrypt });
  // A stale socket from a previous run would make bind fail.
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  // Only the owner (the API server runs as the same user or root) may connect.
  await chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }).finally(() => rm(socketPath, { force: true })),
  };
}

function grpcError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof EnvelopeError) return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  if (err instanceof DataKeyRefusedError) return { code: grpc.status.FAILED_PRECONDITION, details: err.message };
  if (err instanceof DataKeyUnavailableError) return { code: grpc.status.UNAVAILABLE, details: err.message };
  return { code: grpc.status.INTERNAL, details: "Arca KMS plugin error" };
}
