import type { CancelReason } from "./scheduler-types.ts";

/**
 * Rejection of `Scheduler.admit` when a queued job is cancelled by its client (disconnect) or by
 * the cancel endpoint. Deliberately not a ServerError: a client abort is not an error to report
 * (style.md §5); the HTTP layer just stops. Shutdown and timeout reject with ServerErrors instead
 * (shutting_down, request_timeout), since those are answers a client should see.
 */
export class JobCancelledError extends Error {
  readonly reason: CancelReason;

  constructor(id: string, reason: CancelReason) {
    super(`Request ${id} was cancelled while queued (${reason}).`);
    this.name = "JobCancelledError";
    this.reason = reason;
  }
}

export function isJobCancelledError(value: unknown): value is JobCancelledError {
  return value instanceof JobCancelledError;
}
