/**
 * Errors that happen before a request reaches fastify's routing (bad request lines, headers over
 * Node's limit, header timeouts) or inside its router (a path segment over maxParamLength, a bad
 * percent-encoding): answered in the OpenAI envelope like every other error, where by default
 * Node and fastify answer with bodies of their own.
 */
import type { Socket } from "node:net";
import type { FastifyError } from "fastify";
import { ServerError } from "../errors/server-error.ts";
import { errorEnvelope } from "./error-response.ts";

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
      return new ServerError("headers_too_large", "the request's headers are too large (at most 16 KiB)");
    case "HPE_URI_TOO_LONG":
      return new ServerError("uri_too_long", "the request target is too long");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new ServerError("body_timeout", "the request did not arrive in time; it was cut");
    default:
      return new ServerError("invalid_request_error", "the request is not valid HTTP/1.1");
  }
}

/** fastify's `clientErrorHandler`: writes the envelope on the raw socket and closes it. */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer (Node's documentation of 'clientError').
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const serverError = clientErrorToServerError(error);
  const body = JSON.stringify(errorEnvelope(serverError));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${serverError.status} ${REASONS[serverError.status] ?? "Bad Request"}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
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
