/**
 * `orders`: the server generates a key (`key`: AES) or a key pair (`asymmetric`: RSA, stored as a private
 * and a public secret in an rsa container), or has the project's CA issue a certificate (`certificate`:
 * certificate-order.ts). Orders run inside the request (Barbican with its queue
 * disabled does the same), so an order is ACTIVE when its 202 is sent.
 * Cost: a key order is 32 random bytes and two writes; an RSA order is a key-pair generation (tens to
 * hundreds of ms for 4096 bits, off the event loop) before any write.
 */
import { generateKeyPair, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { definePath, type HandlerContext } from "../../core/framework/path.js";
import type { Fields } from "../../core/framework/fields.js";
import { getJson, putJson } from "../../core/view.js";
import { BarbicanError, badRequest, schemaError } from "./barbican-error.js";
import { baseHref, callerUser, type BarbicanEnv } from "./barbican-env.js";
import { checkId, newId } from "./barbican-ids.js";
import { nowStamp } from "./barbican-time.js";
import { page, renderPage } from "./paging.js";
import { checkQuota } from "./quotas.js";
import { parseSecretFields, pyRepr } from "./secret-input.js";
import { secretRef } from "./secret-record.js";
import { storeSecret } from "./path-secrets.js";
import { storeContainer } from "./path-containers.js";
import { containerRef } from "./container-record.js";
import { parseCertificateMeta, placeCertificateOrder } from "./certificate-order.js";

const SCHEMA = "Order";
const ORDER_TYPES = ["key", "asymmetric", "certificate"];
const AES_BITS = [128, 192, 256];
const RSA_BITS = [2048, 3072, 4096];
const generateRsa = promisify(generateKeyPair);

interface OrderRecord {
  id: string;
  created: string;
  updated: string;
  type: OrderType;
  meta: Record<string, unknown>;
  creatorId: string | null;
  secretId?: string;
  containerId?: string;
  deleted?: true;
}

type OrderType = "key" | "asymmetric" | "certificate";

const orderKey = (id: string): string => `order/${id}`;
const orderRef = (base: string, id: string): string => `${base}/v1/orders/${id}`;

function renderOrder(o: OrderRecord, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    created: o.created,
    updated: o.updated,
    status: "ACTIVE",
    type: o.type,
    meta: o.meta,
    sub_status: "Unknown",
    sub_status_message: "Unknown",
  };
  if (o.secretId !== undefined) out.secret_ref = secretRef(base, o.secretId);
  if (o.containerId !== undefined) out.container_ref = containerRef(base, o.containerId);
  out.order_ref = orderRef(base, o.id);
  return out;
}

async function loadOrder(env: BarbicanEnv, ctx: HandlerContext<Fields>, id: string): Promise<OrderRecord> {
  const check = checkId(id, env.tag);
  if (check === "foreign") throw new BarbicanError("permission_denied", "Order retrieval attempt not allowed - please review your user/project privileges");
  const rec = check === "invalid" ? undefined : await getJson<OrderRecord>(ctx.storage, orderKey(id));
  if (!rec) throw new BarbicanError("not_found", "Not Found. Provided order id is invalid.");
  if (rec.deleted) throw new BarbicanError("not_found", "Order not found.");
  return rec;
}

async function allOrders(ctx: HandlerContext<Fields>): Promise<OrderRecord[]> {
  const ids = await ctx.storage.list("order/");
  const recs = await Promise.all(ids.map((id) => getJson<OrderRecord>(ctx.storage, orderKey(id))));
  return recs.filter((r): r is OrderRecord => r !== undefined && !r.deleted).sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}

function parseOrder(body: Record<string, unknown>): { type: OrderType; meta: Record<string, unknown> } {
  const type = body.type;
  if (typeof type !== "string" || !ORDER_TYPES.includes(type)) throw schemaError(SCHEMA, `${pyRepr(type)} is not one of ['key', 'asymmetric', 'certificate']`, "type");
  const meta = body.meta;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw schemaError(SCHEMA, "'meta' is a required property", "meta");
  return { type: type as OrderType, meta: meta as Record<string, unknown> };
}

/** Records a finished order and answers its 202. */
async function saveOrder(ctx: HandlerContext<Fields>, order: OrderRecord) {
  order.updated = nowStamp();
  await putJson(ctx.storage, orderKey(order.id), order);
  const ref = orderRef(baseHref(ctx.req), order.id);
  return { status: 202, data: { order_ref: ref }, headers: { location: ref } };
}

export function orderPaths(env: BarbicanEnv) {
  return [
    definePath({
      pattern: "orders",
      takesArbitraryInput: true,
      existenceCheck: async () => false,
      operations: {
        list: async (ctx) => {
          const base = baseHref(ctx.req);
          return { data: renderPage("orders", page(await allOrders(ctx), ctx.req.data), (o) => renderOrder(o, base), `${base}/v1/orders`) };
        },
        create: async (ctx) => {
          const { type, meta } = parseOrder(ctx.req.data);
          if (type === "certificate") {
            const request = parseCertificateMeta(meta);
            parseSecretFields({ name: meta.name, expiration: meta.expiration }, SCHEMA);
            await checkQuota(ctx.storage, "orders", async () => (await allOrders(ctx)).length, env.quotas);
            const now = nowStamp();
            // Barbican adds `expiration` to the meta of key orders only (barbicanclient refuses it on a certificate order).
            const order: OrderRecord = { id: newId(env.tag), created: now, updated: now, type, meta, creatorId: callerUser(ctx.req) };
            order.containerId = await placeCertificateOrder(env, ctx, meta, request);
            return saveOrder(ctx, order);
          }
          const algorithm = typeof meta.algorithm === "string" ? meta.algorithm.toLowerCase() : undefined;
          if (algorithm === undefined) throw schemaError(SCHEMA, "'algorithm' is a required property", "algorithm");
          const bits = meta.bit_length;
          if (typeof bits !== "number" || !Number.isSafeInteger(bits)) throw schemaError(SCHEMA, "'bit_length' is a required integer", "bit_length");
          const ok = type === "key" ? algorithm === "aes" && AES_BITS.includes(bits) : algorithm === "rsa" && RSA_BITS.includes(bits);
          if (!ok) throw badRequest("Provided field value is not supported");
          const payloadType = meta.payload_content_type ?? "application/octet-stream";
          if (payloadType !== "application/octet-stream") throw badRequest("Provided field value is not supported");
          const fields = parseSecretFields({ name: meta.name, algorithm, bit_length: bits, mode: meta.mode, expiration: meta.expiration, secret_type: type === "key" ? "symmetric" : "private" }, SCHEMA);
          await checkQuota(ctx.storage, "orders", async () => (await allOrders(ctx)).length, env.quotas);
          const now = nowStamp();
          const order: OrderRecord = { id: newId(env.tag), created: now, updated: now, type, meta: { ...meta, expiration: meta.expiration ?? null }, creatorId: callerUser(ctx.req) };
          if (type === "key") {
            const secret = await storeSecret(env, ctx, fields, { bytes: randomBytes(bits / 8), contentType: "application/octet-stream" });
            order.secretId = secret.id;
          } else {
            const pair = await generateRsa("rsa", { modulusLength: bits, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
            const priv = await storeSecret(env, ctx, fields, { bytes: Buffer.from(pair.privateKey), contentType: "application/octet-stream" });
            const pub = await storeSecret(env, ctx, { ...fields, secretType: "public" }, { bytes: Buffer.from(pair.publicKey), contentType: "application/octet-stream" });
            const container = await storeContainer(env, ctx, fields.name, "rsa", [
              { name: "private_key", secretId: priv.id },
              { name: "public_key", secretId: pub.id },
            ]);
            order.containerId = container.id;
          }
          return saveOrder(ctx, order);
        },
      },
      synopsis: "List orders or place one (key: AES; asymmetric: RSA; certificate: from the project's CA)",
    }),
    definePath({
      pattern: "orders/:id",
      takesArbitraryInput: true,
      operations: {
        read: async (ctx) => ({ data: renderOrder(await loadOrder(env, ctx, ctx.params.id), baseHref(ctx.req)) }),
        delete: {
          transaction: true,
          handler: async (ctx) => {
            const rec = await loadOrder(env, ctx, ctx.params.id);
            await putJson(ctx.storage, orderKey(rec.id), { ...rec, deleted: true });
            return { status: 204 };
          },
        },
      },
      synopsis: "An order; delete it (what it made stays)",
    }),
  ];
}
