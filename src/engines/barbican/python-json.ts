/**
 * JSON as Barbican (Python's `json.dumps`) writes it: `", "` between items, `": "` after keys, non-ASCII
 * escaped as \uXXXX. Clients do not care, but byte-for-byte answers make the recorded pairs comparable.
 */
function escapeString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return escapeString(value);
  if (typeof value === "number" || typeof value === "boolean") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (typeof value === "object") {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      parts.push(`${escapeString(k)}: ${pythonJson(v)}`);
    }
    return `{${parts.join(", ")}}`;
  }
  return "null";
}

/** HTTP reason phrases Barbican's error bodies carry as `title`. */
export const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Request Entity Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** Barbican's error body: `{"code": <int>, "title": "<reason>", "description": "<text>"}`. */
export function errorBody(status: number, description: string): string {
  return pythonJson({ code: status, title: REASONS[status] ?? "Error", description });
}
