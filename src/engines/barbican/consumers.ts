/** Consumer bodies of secrets (microversion 1.1: service, resource_type, resource_id) and containers (name, URL). */
import { badRequest } from "./barbican-error.js";

const MAX_FIELD = 255;

function field(body: Record<string, unknown>, name: string, schema: string): string {
  const v = body[name];
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_FIELD) {
    throw badRequest(`Provided object does not match schema '${schema}': '${name}' is a required string of at most ${MAX_FIELD} characters. Invalid property: '${name}'`);
  }
  return v;
}

export function parseSecretConsumer(body: Record<string, unknown>): { service: string; resource_type: string; resource_id: string } {
  return {
    service: field(body, "service", "Secret Consumer"),
    resource_type: field(body, "resource_type", "Secret Consumer"),
    resource_id: field(body, "resource_id", "Secret Consumer"),
  };
}

export function parseContainerConsumer(body: Record<string, unknown>): { name: string; URL: string } {
  return { name: field(body, "name", "Consumer"), URL: field(body, "URL", "Consumer") };
}

/** A resource holds at most this many consumers (a bound on one record's size). */
export const MAX_CONSUMERS = 1000;
