/**
 * One error type for everything the server reports to a client. Each error carries a code from the
 * catalog; the catalog fixes its HTTP status and OpenAI error `type`, so no call site picks a status.
 */
import { ERROR_CATALOG, type ErrorCode } from "./catalog.ts";

export interface ServerErrorOptions {
  param?: string | null;
  cause?: unknown;
  /** Extra response headers (Retry-After for 429). */
  headers?: Record<string, string>;
  /**
   * An engine's failure that generated nothing and changed nothing: a router may run the request
   * again on another replica or upstream (never one that streamed a token: it would be billed and
   * seen twice).
   */
  retryable?: boolean;
}

export class ServerError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: ServerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ServerError";
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.type = ERROR_CATALOG[code].type;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.retryable = options.retryable ?? false;
  }
}

export function isServerError(value: unknown): value is ServerError {
  return value instanceof ServerError;
}

/** Whether a request that failed with `error` may run again elsewhere (ServerErrorOptions.retryable). */
export function isRetryable(error: unknown): boolean {
  return isServerError(error) && error.retryable;
}
