/**
 * The HTTP app factory: builds the Fastify instance with every route, but never listens (tests call
 * it in-process with `app.inject`, main.ts listens). Routes stay thin: parse, call serving, write.
 */
import { randomBytes } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { ServerConfig } from "../config/schema.ts";
import { ServerError } from "../errors/server-error.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { RequestRecord } from "../metrics/request-record.ts";
import type { StatsCollector } from "../metrics/stats-collector.ts";
import type { ModelPool } from "../serving/model-pool.ts";
import type { ResponseStore } from "../serving/response-store.ts";
import { errorEnvelope, toServerError } from "./error-response.ts";
import { registerChatRoutes } from "./routes/chat.ts";
import { registerOpsRoutes } from "./routes/ops.ts";
import { registerResponsesRoutes } from "./routes/responses.ts";

export interface AppDeps {
  config: ServerConfig;
  pool: ModelPool;
  stats: StatsCollector;
  metrics: ServerMetrics;
  logger: Logger;
  /** True once shutdown began: new work gets 503. */
  isShuttingDown: () => boolean;
  /** Stored Responses API responses; absent: an in-memory one sized by the config. */
  responseStore?: ResponseStore;
}

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request ids: the client's X-Request-Id when it sends a usable one, else a fresh one. */
function requestIdGenerator(): (header: string | string[] | undefined) => string {
  const prefix = randomBytes(6).toString("hex");
  let n = 0;
  return (header) => {
    if (typeof header === "string" && CLIENT_ID.test(header)) return header;
    n += 1;
    return `${prefix}${n.toString(36).padStart(6, "0")}`;
  };
}

/** The stats record of a request refused before serving took it (auth, bad JSON, body too large). */
function refusedRecord(requestId: string, error: ServerError): RequestRecord {
  return {
    requestId,
    profile: "none",
    model: "none",
    engine: "none",
    stream: false,
    outcome: error.status >= 500 ? "failed" : "rejected",
    errorCode: error.code,
    status: error.status,
    e2eMs: 0,
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
  };
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const nextId = requestIdGenerator();
  const app = Fastify({
    logger: false,
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: (req) => nextId(req.headers["x-request-id"]),
    // Keep-alive connections must not hold shutdown open.
    forceCloseConnections: "idle",
  });

  // curl -d sends application/x-www-form-urlencoded unless told otherwise; the seed's users rely on
  // every body being read as JSON, so any content type is parsed as JSON.
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, body === "" ? undefined : JSON.parse(body as string));
    } catch (error) {
      done(
        new ServerError("invalid_json", `invalid JSON in request body: ${(error as Error).message}`),
        undefined,
      );
    }
  });

  app.addHook("onRequest", (req, reply, done) => {
    void reply.header("x-request-id", req.id);
    if (deps.config.apiKey !== undefined && req.url.startsWith("/v1/")) {
      const auth = req.headers.authorization;
      if (auth !== `Bearer ${deps.config.apiKey}`) {
        const error = new ServerError(
          "invalid_api_key",
          auth === undefined
            ? "missing API key: send 'Authorization: Bearer <key>'"
            : "incorrect API key provided",
        );
        deps.stats.requestFinished(refusedRecord(req.id, error));
        void reply.code(error.status).send(errorEnvelope(error));
        return;
      }
    }
    done();
  });

  app.setErrorHandler((error, req, reply) => {
    const serverError = toServerError(error);
    if (serverError.status >= 500) deps.logger.error({ err: error, request_id: req.id }, "unhandled error");
    // Errors that reach here happened before serving took the request (bad JSON, body too large):
    // count them like any rejected request.
    deps.stats.requestFinished(refusedRecord(req.id, serverError));
    void reply.code(serverError.status).headers(serverError.headers).send(errorEnvelope(serverError));
  });

  app.setNotFoundHandler((req, reply) => {
    const error = new ServerError("not_found", `no route for ${req.method} ${req.url.split("?")[0] ?? ""}`);
    void reply.code(404).send(errorEnvelope(error));
  });

  registerChatRoutes(app, deps);
  registerResponsesRoutes(app, deps);
  registerOpsRoutes(app, deps);
  return app;
}
