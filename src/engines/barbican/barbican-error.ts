/**
 * Errors the barbican engine answers in Barbican's own words: the wire format renders `message` as the
 * `description` of Barbican's error body (`{"code", "title", "description"}`). Errors of the pipeline
 * (policy, routing) are plain ArcaErrors, which the format words itself.
 */
import { ArcaError, type ErrorKind } from "../../common/errors.js";

export class BarbicanError extends ArcaError {
  constructor(kind: ErrorKind, description: string) {
    super(kind, description);
    this.name = "BarbicanError";
  }
}

export const badRequest = (description: string): BarbicanError => new BarbicanError("invalid_request", description);

/** Barbican's schema-validation wording: "Provided object does not match schema '<schema>': <why>. Invalid property: '<field>'". */
export function schemaError(schema: string, reason: string, property: string): BarbicanError {
  return badRequest(`Provided object does not match schema '${schema}': ${reason}. Invalid property: '${property}'`);
}

export const tooLarge = (): BarbicanError => new BarbicanError("payload_too_large", "Provided information too large to process");
