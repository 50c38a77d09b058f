/**
 * Request ids: 96 random bits each (`req_` + 16 base64url characters), never a counter, so that
 * no client can guess another's id and cancel its request. A client's own X-Request-Id (or
 * OpenAI's X-Client-Request-Id) is kept beside ours for the logs and echoed back as
 * `x-client-request-id`; it never becomes the id that `/v1/cancel/{id}` acts on.
 */
import { randomFillSync } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyRequest } from "fastify";

/** Ids are cut from a pooled buffer: one system call a few hundred requests, not one a request. */
const POOL_BYTES = 12 * 256;
let pool = Buffer.alloc(0);
let offset = POOL_BYTES;

export function newRequestId(): string {
  if (offset + 12 > pool.length) {
    pool = randomFillSync(Buffer.alloc(POOL_BYTES));
    offset = 0;
  }
  const id = pool.subarray(offset, offset + 12).toString("base64url");
  offset += 12;
  return `req_${id}`;
}

const CLIENT_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The client's own request id, when it sent a usable one (printable, at most 128 characters). */
export function clientRequestId(headers: IncomingHttpHeaders): string | undefined {
  for (const name of ["x-request-id", "x-client-request-id"]) {
    const value = headers[name];
    if (typeof value === "string" && CLIENT_ID.test(value)) return value;
  }
  return undefined;
}

/** `METHOD /route/pattern`, or the raw path (cut short: it is the client's text) when none matched. */
export function routeLabel(req: FastifyRequest): string {
  const path = req.routeOptions.url ?? (req.url.split("?")[0] ?? "").slice(0, 200);
  return `${req.method} ${path}`;
}
