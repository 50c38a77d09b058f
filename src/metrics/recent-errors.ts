/**
 * The last few requests that ended in an error (failed or rejected), newest first, for the
 * dashboard's "recent errors" table. Kept apart from the stats window because at a high request
 * rate the window's 1,000 entries turn over several times a second, and the errors worth reading
 * would be gone before anyone looked. Costs nothing for a request that succeeds.
 */
import type { RequestRecord } from "./request-record.ts";

export interface RecentError {
  /** When it finished, epoch milliseconds (the collector's clock). */
  at_ms: number;
  request_id: string;
  outcome: "failed" | "rejected";
  status: number | null;
  code: string;
  message: string;
  model: string;
  profile: string;
  route: string | null;
}

export const RECENT_ERRORS_KEPT = 20;

/**
 * Long enough for any catalogued message; a message quoting a client's input (an unknown model
 * name, say) cannot grow the list past a few tens of kilobytes.
 */
const MAX_MESSAGE_CHARS = 500;

export class RecentErrors {
  readonly #capacity: number;
  /** Oldest first; at most #capacity entries, so shift() is cheap. */
  readonly #entries: RecentError[] = [];

  constructor(capacity = RECENT_ERRORS_KEPT) {
    this.#capacity = capacity;
  }

  /** Keeps the record if it is an error; ignores any other outcome. */
  add(record: RequestRecord, atMs: number): void {
    if (record.outcome !== "failed" && record.outcome !== "rejected") return;
    const message = record.errorMessage ?? "";
    this.#entries.push({
      at_ms: atMs,
      request_id: record.requestId,
      outcome: record.outcome,
      status: record.status ?? null,
      code: record.errorCode ?? (record.status !== undefined ? `http_${record.status}` : "unknown"),
      message: message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}…` : message,
      model: record.model,
      profile: record.profile,
      route: record.route ?? null,
    });
    if (this.#entries.length > this.#capacity) this.#entries.shift();
  }

  /** Newest first. */
  list(): RecentError[] {
    return this.#entries.map((e) => ({ ...e })).reverse();
  }
}
