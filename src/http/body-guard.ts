/**
 * What stands between a request body and the routes: a stall timeout and a JSON parser that
 * refuses absurd nesting. Both answer in the OpenAI envelope through the app's error handler.
 *
 * - Stall: a body that sends nothing for `--body-timeout` ms is cut with 408 `body_timeout` and
 *   the connection is closed; a client that stops mid-upload can no longer hold a connection (and
 *   shutdown) forever. Node's own `requestTimeout` bounds the whole upload as a backstop.
 * - Depth: a JSON body nested deeper than MAX_JSON_DEPTH is refused before any code walks it
 *   recursively (schemas, renderers), so no request can overflow a stack. The walk is iterative.
 * - Any content type is read as JSON: curl's `-d` sends application/x-www-form-urlencoded, and the
 *   seed's users rely on it (docs/errors.md says so).
 */
import { PassThrough, type Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { ServerError } from "../errors/server-error.ts";

/** Deepest nesting of arrays and objects a body may have (chat schemas use under 20). */
export const MAX_JSON_DEPTH = 128;

/**
 * What makes a parsed JSON value unsafe to walk: nesting deeper than `limit`, or a "__proto__" key
 * (JSON.parse keeps it as an own property, but any later `target[key] = value` copy, zod's records
 * among them, would set the copy's prototype; fastify's own parser refuses it the same way).
 * Iterative, and it stops at the first hazard.
 */
export function jsonHazard(value: unknown, limit: number): "depth" | "proto" | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > limit) return "depth";
    if (!Array.isArray(node) && Object.hasOwn(node, "__proto__")) return "proto";
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

export function parseJsonBody(body: string): unknown {
  if (body === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new ServerError("invalid_json", `invalid JSON in request body: ${(error as Error).message}`);
  }
  const hazard = jsonHazard(value, MAX_JSON_DEPTH);
  if (hazard === "depth") {
    throw new ServerError(
      "invalid_request_error",
      `the request body is nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  if (hazard === "proto") {
    throw new ServerError("invalid_request_error", 'the request body has a "__proto__" key');
  }
  return value;
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers["content-length"];
  return headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** Wraps the body stream so that a stall of `idleMs` fails it with 408 body_timeout. */
function guardStall(payload: Readable, idleMs: number, onStall: () => void): Readable {
  const out = new PassThrough();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      payload.unpipe(out);
      onStall();
      out.destroy(
        new ServerError("body_timeout", `the request body sent nothing for ${idleMs} ms; it was cut`),
      );
    }, idleMs);
  };
  arm();
  payload.on("data", arm);
  const stop = (): void => {
    clearTimeout(timer);
    payload.off("data", arm);
  };
  payload.once("end", stop);
  payload.once("close", stop);
  out.once("close", stop);
  // A payload error (client reset) must reach the body reader as an error, not a silent end.
  payload.once("error", (error) => out.destroy(error));
  payload.pipe(out);
  return out;
}

export function registerBodyGuard(app: FastifyInstance, options: { idleMs: number }): void {
  // Every type, application/json included: fastify's built-in JSON parser has no depth limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addHook("preParsing", (req, reply, payload, done) => {
    if (!hasBody(req.headers)) {
      done(null, payload);
      return;
    }
    // After a stall the rest of the body will never be read: the connection cannot be reused.
    done(
      null,
      guardStall(payload, options.idleMs, () => void reply.header("connection", "close")),
    );
  });
}
