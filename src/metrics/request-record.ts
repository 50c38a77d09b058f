/**
 * What the HTTP/serving layer reports about each request: once when it starts, once when it ends.
 * Shared by the /stats collector, the Prometheus metrics and the request log.
 */

/*
 * profile, model and engine must be served/resolved names (a small fixed set), never raw client
 * input: they become /stats map keys and Prometheus label values, so a client sending random
 * `model` strings would otherwise grow both without bound. For a request rejected before
 * resolution, pass the default profile and the served model.
 */

export interface RequestStartInfo {
  requestId: string;
  profile: string;
  model: string;
  engine: string;
  stream: boolean;
}

/**
 * How a request ended.
 * - success: a response was delivered.
 * - failed: the server could not serve it (5xx, 504 timeout, 503 loading, 429 queue full: the
 *   server's capacity or health, not the client's input). Counts in error_rate and the health score.
 * - cancelled: the client went away or called /v1/cancel. Not an error (style.md §5).
 * - rejected: the client's input was wrong (400/401/404/413/415 before any work was done). Counted
 *   in requests_rejected and errors_by_code, kept OUT of error_rate: a caller sending bad JSON must
 *   not make the server look unhealthy.
 */
export type RequestOutcome = "success" | "failed" | "cancelled" | "rejected";

export interface RequestRecord {
  requestId: string;
  profile: string;
  model: string;
  engine: string;
  stream: boolean;
  outcome: RequestOutcome;
  /** Catalog code (src/errors/catalog.ts) for failed/rejected requests. */
  errorCode?: string | undefined;
  /** What the client was told, and the field blamed: a refusal's log line explains itself. */
  errorMessage?: string | undefined;
  errorParam?: string | null | undefined;
  /** `METHOD /route/pattern` as matched (or the raw path for a 404), for the log. */
  route?: string | undefined;
  /** The client's own X-Request-Id, when it sent one: logged beside ours so traces join up. */
  clientRequestId?: string | undefined;
  /** HTTP status sent (200 for a stream that later failed or was cancelled). */
  status?: number | undefined;
  /** Time to the first generated token, streaming or not; absent when none was generated. */
  ttftMs?: number | undefined;
  /**
   * Time waiting in the scheduler's queue for a slot: for every request admitted, and for one that
   * failed while queued (a queue timeout: its whole wait). Absent when it never reached the queue
   * (refused before) or was cancelled there (the wait was the client's choice).
   */
  queueMs?: number | undefined;
  /** Arrival to last byte. */
  e2eMs: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  /**
   * The response cache's part (serving/response-cache.ts): "hit" when the answer came from it (its
   * token counts are the cached answer's, for the log; /stats and the token metrics leave them out:
   * no engine processed them), "miss" when it was generated while the cache was on.
   */
  responseCache?: "hit" | "miss" | undefined;
}
