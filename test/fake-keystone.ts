// A scripted stand-in for Keystone's two token calls, for what a real Keystone cannot be made to do on
// demand in tests: be down, hang, hand out an almost-expired token. Tests with a real one: test/keystone.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeToken {
  expiresAt: Date;
  project?: { id: string; name: string };
  roles: string[];
}

/** Tokens the stand-in knows; validations it answered; `hang` makes it accept and never answer. */
export class FakeKeystone {
  readonly tokens = new Map<string, FakeToken>();
  validations = 0;
  hang = false;
  private server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v3`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.hang) return;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && req.url?.startsWith("/v3/auth/tokens")) {
      send(201, { token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), user: { id: "svc", name: "svc" } } }, { "X-Subject-Token": "service-token" });
      return;
    }
    if (req.method === "GET" && req.url?.startsWith("/v3/auth/tokens")) {
      if (req.headers["x-auth-token"] !== "service-token") return send(401, { error: { code: 401 } });
      this.validations++;
      const t = this.tokens.get(String(req.headers["x-subject-token"]));
      if (!t || t.expiresAt.getTime() < Date.now()) return send(404, { error: { code: 404 } });
      return send(200, {
        token: { expires_at: t.expiresAt.toISOString(), user: { id: "u1", name: "alice" }, project: t.project, roles: t.roles.map((name) => ({ id: name, name })) },
      });
    }
    send(404, {});
  }
}
