// The KMS v2 gRPC service through a client generated at run time (proto-loader) from the committed
// proto, on a real unix socket; and the proto itself checked against the official wire contract.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeDataKeys } from "./fake-data-keys.test-util.js";
import { KMS_V2_PROTO, PROTO_LOADER_OPTIONS, startKmsGrpcServer, type KmsGrpcServer } from "./grpc-server.js";
import { kmsClient, unary, type KmsClient } from "./kms-client.test-util.js";
import { KmsService } from "./kms-service.js";

describe("KMS v2 proto", () => {
  it("has the official service paths and message fields (names, numbers, types)", () => {
    const d = protoLoader.loadSync(KMS_V2_PROTO, PROTO_LOADER_OPTIONS);
    const svc = d["v2.KeyManagementService"] as protoLoader.ServiceDefinition;
    expect(Object.fromEntries(Object.entries(svc).map(([m, def]) => [m, def.path]))).toEqual({
      Status: "/v2.KeyManagementService/Status",
      Decrypt: "/v2.KeyManagementService/Decrypt",
      Encrypt: "/v2.KeyManagementService/Encrypt",
    });
    type Field = { name: string; number: number; type: string; label: string };
    const fields = (name: string) => ((d[`v2.${name}`] as { type: { field: Field[] } }).type.field).map((f) => [f.name, f.number, f.type, f.label]);
    const map = "LABEL_REPEATED";
    expect(fields("StatusRequest")).toEqual([]);
    expect(fields("StatusResponse")).toEqual([["version", 1, "TYPE_STRING", "LABEL_OPTIONAL"], ["healthz", 2, "TYPE_STRING", "LABEL_OPTIONAL"], ["key_id", 3, "TYPE_STRING", "LABEL_OPTIONAL"]]);
    expect(fields("DecryptRequest")).toEqual([
      ["ciphertext", 1, "TYPE_BYTES", "LABEL_OPTIONAL"],
      ["uid", 2, "TYPE_STRING", "LABEL_OPTIONAL"],
      ["key_id", 3, "TYPE_STRING", "LABEL_OPTIONAL"],
      ["annotations", 4, "TYPE_MESSAGE", map],
    ]);
    expect(fields("DecryptResponse")).toEqual([["plaintext", 1, "TYPE_BYTES", "LABEL_OPTIONAL"]]);
    expect(fields("EncryptRequest")).toEqual([["plaintext", 1, "TYPE_BYTES", "LABEL_OPTIONAL"], ["uid", 2, "TYPE_STRING", "LABEL_OPTIONAL"]]);
    expect(fields("EncryptResponse")).toEqual([["ciphertext", 1, "TYPE_BYTES", "LABEL_OPTIONAL"], ["key_id", 2, "TYPE_STRING", "LABEL_OPTIONAL"], ["annotations", 3, "TYPE_MESSAGE", map]]);
  });
});

describe("KMS v2 gRPC server on a unix socket", () => {
  let dir: string;
  let socket: string;
  let server: KmsGrpcServer;
  let client: KmsClient;
  const src = new FakeDataKeys();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "arca-kms-"));
    socket = join(dir, "kms.sock");
    server = await startKmsGrpcServer(new KmsService(src), socket);
    client = kmsClient(socket);
  });
  beforeEach(() => {
    src.mode = "ok";
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the socket is private to its owner", () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });

  it("Status, Encrypt and Decrypt round trip; key_id matches Status", async () => {
    const st = await unary<{ version: string; healthz: string; key_id: string }>((cb) => client.Status({}, cb));
    expect(st.version).toBe("v2");
    expect(st.healthz).toBe("ok");
    const pt = Buffer.from("DEK seed for etcd");
    const enc = await unary<{ ciphertext: Buffer; key_id: string }>((cb) => client.Encrypt({ plaintext: pt, uid: "u1" }, cb));
    expect(enc.key_id).toBe(st.key_id);
    expect(enc.ciphertext.includes(pt)).toBe(false);
    const dec = await unary<{ plaintext: Buffer }>((cb) => client.Decrypt({ ciphertext: enc.ciphertext, uid: "u2", key_id: enc.key_id }, cb));
    expect(dec.plaintext).toEqual(pt);
  });

  it("a request over the message bound is RESOURCE_EXHAUSTED and the server keeps serving", async () => {
    await expect(unary((cb) => client.Encrypt({ plaintext: Buffer.alloc(5 * 1024 * 1024), uid: "big" }, cb))).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect((await unary<{ healthz: string }>((cb) => client.Status({}, cb))).healthz).toBe("ok");
  });

  it("garbage ciphertext is INVALID_ARGUMENT; Arca refusing is FAILED_PRECONDITION, unreachable is UNAVAILABLE and healthz says so", async () => {
    await expect(unary((cb) => client.Decrypt({ ciphertext: Buffer.from("garbage"), uid: "u", key_id: "k" }, cb))).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const enc = await unary<{ ciphertext: Buffer }>((cb) => client.Encrypt({ plaintext: Buffer.from("p"), uid: "u" }, cb));
    src.mode = "down";
    const st = await unary<{ healthz: string }>((cb) => client.Status({}, cb));
    expect(st.healthz).not.toBe("ok");
    src.mode = "refuse";
    // The poll that sees the refusal drops the held data key: Decrypt then needs Arca, which refuses.
    expect((await unary<{ healthz: string }>((cb) => client.Status({}, cb))).healthz).toMatch(/refused/);
    await expect(unary((cb) => client.Decrypt({ ciphertext: enc.ciphertext, uid: "u", key_id: "k" }, cb))).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    src.mode = "down";
    await expect(unary((cb) => client.Encrypt({ plaintext: Buffer.from("p"), uid: "u" }, cb))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});
