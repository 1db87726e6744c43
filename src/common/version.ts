/** Reported in seal-status and health. */
export const VERSION = "0.1.0";
export const COMMIT_DATE = "2026-11-22T00:00:00Z";
