/**
 * Errors that happen before a request reaches fastify's routing (bad request lines, headers over
 * Node's limit, header timeouts) or inside its router (a path segment over maxParamLength, a bad
 * percent-encoding): answered in the OpenAI envelope like every other error, where by default
 * Node and fastify answer with bodies of their own.
 */
import type { Socket } from "node:net";
import type { FastifyError } from "fastify";
import { ServerError } from "../errors/server-error.ts";
import type { RequestRecord } from "../metrics/request-record.ts";
import { errorEnvelope } from "./error-response.ts";
import { newRequestId } from "./request-id.ts";

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
};

/** A Node HTTP parser error → the error the client is told. */
export function clientErrorToServerError(error: Error & { code?: string }): ServerError {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return new ServerError(
        "headers_too_large",
        "the request line and headers are too large (at most 16 KiB together)",
      );
    case "HPE_URI_TOO_LONG":
      return new ServerError("uri_too_long", "the request target is too long");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ServerError("body_timeout", "the request did not arrive in time; it was cut");
    default:
      return new ServerError("invalid_request_error", "the request is not valid HTTP/1.1");
  }
}

/**
 * The stats record (and log line) of a request refused before serving took it: auth, bad JSON, a
 * body too large (app.ts), or a request not even parsed (below). A 4xx is the client's doing:
 * "rejected", out of the error rate and the health score.
 */
export function refusalRecord(
  who: { requestId: string; route: string; clientRequestId?: string | undefined },
  error: ServerError,
  outcome?: "cancelled",
): RequestRecord {
  return {
    requestId: who.requestId,
    profile: "none",
    model: "none",
    engine: "none",
    stream: false,
    outcome: outcome ?? (error.status >= 500 ? "failed" : "rejected"),
    errorCode: error.code,
    errorMessage: error.message,
    errorParam: error.param,
    route: who.route,
    ...(who.clientRequestId !== undefined ? { clientRequestId: who.clientRequestId } : {}),
    status: error.status,
    e2eMs: 0,
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
  };
}

/** A request refused before it was parsed: no request line, so there is no route to name. */
export function unparsedRefusalRecord(requestId: string, error: ServerError): RequestRecord {
  return refusalRecord({ requestId, route: "(unparsed request)" }, error);
}

/**
 * fastify's `clientErrorHandler`: writes the envelope on the raw socket and closes it. `refused`
 * counts and logs the refusal (app.ts passes the same recorder its routes use), so these are not
 * invisible: a 431 is a warn line with its code and message, and a client error in /stats.
 */
export function clientErrorHandler(
  refused: (record: RequestRecord) => void,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has nobody to answer (Node's documentation of 'clientError').
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    const serverError = clientErrorToServerError(error);
    const requestId = newRequestId();
    refused(unparsedRefusalRecord(requestId, serverError));
    const body = JSON.stringify(errorEnvelope(serverError));
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${serverError.status} ${REASONS[serverError.status] ?? "Bad Request"}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nX-Request-Id: ${requestId}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** fastify's `frameworkErrors` (router-level refusals) → the error the client is told. */
export function frameworkErrorToServerError(error: FastifyError): ServerError {
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return new ServerError("uri_too_long", "a path segment is longer than 100 characters");
  }
  if (error.code === "FST_ERR_BAD_URL") {
    return new ServerError(
      "invalid_request_error",
      "the request path is not a valid URL (bad percent-encoding)",
    );
  }
  return new ServerError("invalid_request_error", error.message);
}
