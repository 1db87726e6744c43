/**
 * The audit hook in the request pipeline. Devices (file, socket) arrive with issue 4; the broker's
 * contract is fixed now: every request is offered to the broker before it reaches an engine and every
 * response after, and when devices are enabled but none records an entry, the request fails (closed).
 */
import type { Request, Response } from "./framework/request.js";

export interface AuditBroker {
  logRequest(req: Request): Promise<void>;
  logResponse(req: Request, resp: Response | undefined, err: unknown): Promise<void>;
}

/** The broker with no devices enabled: OpenBao serves requests when no audit device is configured. */
export const noAuditDevices: AuditBroker = {
  async logRequest() {},
  async logResponse() {},
};
