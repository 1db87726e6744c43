import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, devServer } from "../../../test/servers.js";
import type { RunningServer } from "../../server/server.js";

describe("cubbyhole", () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await devServer();
  });
  afterAll(async () => s.stop());

  const newToken = async (): Promise<string> => {
    const r = await api(s.url, "POST", "auth/token/create", { token: s.rootToken, body: { policies: ["default"] } });
    return (r.body?.auth as { client_token: string }).client_token;
  };

  it("gives each token its own private storage, under the default policy", async () => {
    const a = await newToken();
    const b = await newToken();
    expect((await api(s.url, "POST", "cubbyhole/app/cfg", { token: a, body: { secret: "for-a" } })).status).toBe(204);
    expect((await api(s.url, "GET", "cubbyhole/app/cfg", { token: a })).body?.data).toEqual({ secret: "for-a" });
    expect((await api(s.url, "GET", "cubbyhole/app/cfg", { token: b })).status).toBe(404);
    expect((await api(s.url, "GET", "cubbyhole/app?list=true", { token: a })).body?.data).toEqual({ keys: ["cfg"] });
    expect((await api(s.url, "GET", "cubbyhole/app?list=true", { token: b })).status).toBe(404);
    const mounts = await api(s.url, "GET", "sys/mounts", { token: s.rootToken });
    expect(mounts.body).toHaveProperty(["cubbyhole/", "type"], "cubbyhole");
    expect((await api(s.url, "DELETE", "sys/mounts/cubbyhole", { token: s.rootToken })).status).toBe(400);
  });

  it("is destroyed with its token", async () => {
    const t = await newToken();
    await api(s.url, "POST", "cubbyhole/x", { token: t, body: { v: "1" } });
    const id = (await s.core.root.tokens.lookup(t))!.id;
    const cubby = s.core.root.router.get("cubbyhole/")!;
    expect(await cubby.storage.list(`${id}/`)).toEqual(["x"]);
    await api(s.url, "POST", "auth/token/revoke-self", { token: t });
    expect(await cubby.storage.list(`${id}/`)).toEqual([]);
  });
});
