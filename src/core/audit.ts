/**
 * The audit hook in the request pipeline: every request is offered to the broker before it reaches an
 * engine and every response after; when devices are enabled but none records an entry, the request
 * fails (closed). The implementation is audit/audit-broker.ts.
 */
import type { Request, Response } from "./framework/request.js";

export interface AuditBroker {
  logRequest(req: Request): Promise<void>;
  logResponse(req: Request, resp: Response | undefined, err: unknown): Promise<void>;
}
