/**
 * Consumers: services registering that they use a secret (`secrets/:id/consumers`, microversion 1.1) or a
 * container (`containers/:id/consumers`). Registering the same consumer twice keeps one entry. Each write is
 * one read-modify-write of the owning record.
 */
import { definePath } from "../../core/framework/path.js";
import { BarbicanError } from "./barbican-error.js";
import { baseHref, type BarbicanEnv } from "./barbican-env.js";
import { nowStamp } from "./barbican-time.js";
import { MAX_CONSUMERS, parseContainerConsumer, parseSecretConsumer } from "./consumers.js";
import { loadContainer, renderContainer, saveContainer } from "./container-record.js";
import { checkQuota } from "./quotas.js";
import { page, renderPage } from "./paging.js";
import { loadSecret, renderSecret, saveSecret, secretRef } from "./secret-record.js";

const tooMany = (): BarbicanError => new BarbicanError("invalid_request", `A resource holds at most ${MAX_CONSUMERS} consumers`);

export function consumerPaths(env: BarbicanEnv) {
  return [
    definePath({
      pattern: "secrets/:id/consumers",
      takesArbitraryInput: true,
      operations: {
        list: async ({ req, storage, params }) => {
          const rec = await loadSecret(storage, env.tag, params.id);
          const render = (c: (typeof rec.consumers)[number]) => ({ service: c.service, resource_type: c.resource_type, resource_id: c.resource_id, created: c.created, updated: c.created, status: "ACTIVE" });
          return { data: renderPage("consumers", page(rec.consumers, req.data), render, `${secretRef(baseHref(req), rec.id)}/consumers`) };
        },
        update: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const c = parseSecretConsumer(req.data);
            const rec = await loadSecret(storage, env.tag, params.id);
            const same = (k: typeof c) => k.service === c.service && k.resource_type === c.resource_type && k.resource_id === c.resource_id;
            if (!rec.consumers.some(same)) {
              if (rec.consumers.length >= MAX_CONSUMERS) throw tooMany();
              await checkQuota(storage, "consumers", async () => rec.consumers.length, env.quotas);
              rec.consumers.push({ ...c, created: nowStamp() });
              await saveSecret(storage, rec);
            }
            return { data: { ...renderSecret(rec, baseHref(req)), consumers: rec.consumers.map(({ service, resource_type, resource_id }) => ({ service, resource_type, resource_id })) } };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const c = parseSecretConsumer(req.data);
            const rec = await loadSecret(storage, env.tag, params.id);
            const at = rec.consumers.findIndex((k) => k.service === c.service && k.resource_type === c.resource_type && k.resource_id === c.resource_id);
            if (at === -1) throw new BarbicanError("not_found", "Consumer not found.");
            rec.consumers.splice(at, 1);
            await saveSecret(storage, rec);
            return { data: { ...renderSecret(rec, baseHref(req)), consumers: rec.consumers.map(({ service, resource_type, resource_id }) => ({ service, resource_type, resource_id })) } };
          },
        },
      },
      synopsis: "Services using a secret",
    }),
    definePath({
      pattern: "containers/:id/consumers",
      takesArbitraryInput: true,
      operations: {
        list: async ({ req, storage, params }) => {
          const rec = await loadContainer(storage, env.tag, params.id);
          const render = (c: (typeof rec.consumers)[number]) => ({ created: c.created, updated: c.created, status: "ACTIVE", name: c.name, URL: c.URL });
          return { data: renderPage("consumers", page(rec.consumers, req.data), render, `${baseHref(req)}/v1/containers/${rec.id}/consumers`) };
        },
        update: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const c = parseContainerConsumer(req.data);
            const rec = await loadContainer(storage, env.tag, params.id);
            if (!rec.consumers.some((k) => k.name === c.name && k.URL === c.URL)) {
              if (rec.consumers.length >= MAX_CONSUMERS) throw tooMany();
              await checkQuota(storage, "consumers", async () => rec.consumers.length, env.quotas);
              rec.consumers.push({ ...c, created: nowStamp() });
              await saveContainer(storage, rec);
            }
            return { data: renderContainer(rec, baseHref(req)) };
          },
        },
        delete: {
          transaction: true,
          handler: async ({ req, storage, params }) => {
            const c = parseContainerConsumer(req.data);
            const rec = await loadContainer(storage, env.tag, params.id);
            const at = rec.consumers.findIndex((k) => k.name === c.name && k.URL === c.URL);
            if (at === -1) throw new BarbicanError("not_found", "Consumer not found.");
            rec.consumers.splice(at, 1);
            await saveContainer(storage, rec);
            return { data: renderContainer(rec, baseHref(req)) };
          },
        },
      },
      synopsis: "Services using a container",
    }),
  ];
}
