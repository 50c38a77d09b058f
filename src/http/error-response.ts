/**
 * The ONE mapping from errors to HTTP responses, before and after a stream has started (style rule 5).
 * Fastify's own errors (bad JSON, body too large, wrong content type) are translated to catalog codes
 * here so that every client sees the OpenAI envelope.
 */
import type { IncomingMessage } from "node:http";
import type { ErrorCode } from "../errors/catalog.ts";
import { ServerError } from "../errors/server-error.ts";
import type { ErrorEnvelopeWire } from "../protocol/errors.ts";

const FASTIFY_CODES: Record<string, { code: ErrorCode; message: (e: Error) => string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: "invalid_json",
    message: (e) => `invalid JSON in request body: ${e.message}`,
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: "invalid_json",
    message: () => "the request body is empty; send a JSON object",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "request_too_large", message: () => "request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "unsupported_media_type",
    message: () => "send the body as application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "invalid_request_error",
    message: () => "content-length does not match the body",
  },
};

/** Normalizes anything thrown into a ServerError; unknown errors become internal_error (a bug). */
export function toServerError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof SyntaxError)
    return new ServerError("invalid_json", `invalid JSON in request body: ${error.message}`);
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    const known = typeof code === "string" ? FASTIFY_CODES[code] : undefined;
    if (known !== undefined) return new ServerError(known.code, known.message(error), { cause: error });
  }
  return new ServerError("internal_error", "internal server error", { cause: error });
}

/** Errors a body reader sees when the client went away mid-upload (Node's 'aborted' is ECONNRESET). */
const CLIENT_GONE_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** True when `error` only says the client closed its connection (a cancel, not a failure). */
export function isClientGone(error: unknown, req: IncomingMessage): boolean {
  if (error instanceof ServerError) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CLIENT_GONE_CODES.has(code)) return true;
  return req.destroyed && !req.complete;
}

export function errorEnvelope(error: ServerError): ErrorEnvelopeWire {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}
