/**
 * HTTP(S) listeners: one server per listener block, shared by every wire format (OpenBao's /v1 API, and
 * beside it any other front door), routed by URL prefix in the front door.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { vaultWireFormat } from "../http/vault/handler.js";
import { createFrontDoor } from "../http/front-door.js";
import type { WireFormat } from "../http/wire-format.js";
import { supportListVerbs } from "../http/vault/list-verb.js";
import type { Core } from "../core/core.js";
import type { Logger } from "./log.js";
import type { ListenerConfig } from "./config.js";
import type { ServerMetrics } from "./metrics.js";

export interface RunningListener {
  server: Server;
  /** "http://127.0.0.1:8200" */
  url: string;
  close(): Promise<void>;
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid listener address "${address}"`);
  return { host: m[1] || "0.0.0.0", port: Number(m[2]) };
}

/** node:tls options from the listener's settings (config.ts has mapped OpenBao's names already). */
export function tlsServerOptions(cfg: ListenerConfig): HttpsOptions {
  const opts: HttpsOptions = {
    cert: readFileSync(cfg.tlsCertFile ?? ""),
    key: readFileSync(cfg.tlsKeyFile ?? ""),
    minVersion: cfg.tlsMinVersion ?? "TLSv1.2",
  };
  if (cfg.tlsMaxVersion) opts.maxVersion = cfg.tlsMaxVersion;
  if (cfg.tlsCiphers) opts.ciphers = cfg.tlsCiphers;
  if (cfg.tlsRequireClientCert) {
    // The handshake itself fails without a certificate that chains to these CAs: nothing reaches the API.
    opts.requestCert = true;
    opts.rejectUnauthorized = true;
    if (cfg.tlsClientCaFile) opts.ca = readFileSync(cfg.tlsClientCaFile);
  } else if (!cfg.tlsDisableClientCerts) {
    // As OpenBao (tls.RequestClientCert): ask for a certificate, accept any or none. Judging it is the
    // cert auth method's job, against its own trusted certificates; other requests ignore it.
    opts.requestCert = true;
    opts.rejectUnauthorized = false;
  }
  return opts;
}

/**
 * `formats` are the front doors served beside OpenBao's /v1 API, each under its own URL prefix; the
 * OpenBao format comes last and answers what no other claims. A listener with `serve` set (its own
 * front door's listener) serves `formats` alone, without OpenBao's API.
 */
export async function startListener(
  core: Core,
  cfg: ListenerConfig,
  logger: Logger,
  metrics?: ServerMetrics,
  formats: readonly WireFormat[] = [],
): Promise<RunningListener> {
  const handler = createFrontDoor({
    core,
    logger,
    metrics,
    maxRequestSize: cfg.maxRequestSize > 0 ? cfg.maxRequestSize : Number.MAX_SAFE_INTEGER,
    formats: cfg.serve === undefined ? [...formats, vaultWireFormat(core)] : formats,
  });
  const onRequest = (req: Parameters<typeof handler>[0], res: Parameters<typeof handler>[1]) => void handler(req, res);
  const tls = !cfg.tlsDisable;
  const server: Server = tls
    ? createHttpsServer(tlsServerOptions(cfg), onRequest)
    : createHttpServer(onRequest);
  server.keepAliveTimeout = 65_000;
  supportListVerbs(server);
  const { host, port } = splitAddress(cfg.address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `${tls ? "https" : "http"}://${shownHost}:${addr.port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
