/**
 * The HTTP app factory: builds the Fastify instance with every route, but never listens (tests call
 * it in-process with `app.inject`, main.ts listens). Routes stay thin: parse, call serving, write.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { ServerConfig } from "../config/schema.ts";
import { ServerError } from "../errors/server-error.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { RequestRecord } from "../metrics/request-record.ts";
import type { StatsCollector } from "../metrics/stats-collector.ts";
import type { AlertsWire } from "../metrics/slo-alerts.ts";
import { logRequestFinished } from "../observability/request-log.ts";
import type { RequestTracer } from "../observability/request-tracer.ts";
import type { ModelPool } from "../serving/model-pool.ts";
import { RenderPool } from "../serving/render-pool.ts";
import { ResponseCache } from "../serving/response-cache.ts";
import type { ResponseStore } from "../serving/response-store.ts";
import { ApiKeyAuth, type Principal } from "./auth.ts";
import { registerBodyGuard } from "./body-guard.ts";
import { clientErrorHandler, frameworkErrorToServerError, refusalRecord } from "./client-errors.ts";
import { errorEnvelope, isClientGone, toServerError } from "./error-response.ts";
import { clientRequestId, newRequestId, routeLabel } from "./request-id.ts";
import { RequestOwners } from "./request-owners.ts";
import { registerChatRoutes } from "./routes/chat.ts";
import { registerCompletionsRoutes } from "./routes/completions.ts";
import { registerDashboardRoutes } from "./routes/dashboard.ts";
import { registerOpsRoutes } from "./routes/ops.ts";
import { registerResponsesRoutes } from "./routes/responses.ts";
import { registerTokenizeRoutes } from "./routes/tokenize.ts";

declare module "fastify" {
  interface FastifyInstance {
    /** Every route registered, as `[method, url]`: the auth test walks it, so none is forgotten. */
    routeTable: ReadonlyArray<readonly [string, string]>;
  }
  interface FastifyRequest {
    /** Who sent it: the key it carried (cancel is held to the same key). Set by the auth hook. */
    principal: Principal | undefined;
    /** The client's own X-Request-Id, kept for the logs. */
    clientRequestId: string | undefined;
  }
}

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
  /** Renders large prompts off the HTTP thread; absent: one worker, closed with the app. */
  renderPool?: RenderPool;
  /** Traces (--otlp-endpoint); absent: none, at no cost. */
  tracer?: RequestTracer | undefined;
  /** SLO alerts for /health; absent: none active. */
  alerts?: { view(): AlertsWire } | undefined;
  /** Answers of deterministic requests (--response-cache); absent: one sized by the config. */
  responseCache?: ResponseCache;
}

/** What routes get: the app's dependencies plus who made each request in flight. */
export interface RouteDeps extends AppDeps {
  renderPool: RenderPool;
  /** Who made each request in flight (cancel is held to it). */
  owners: RequestOwners;
  responseCache: ResponseCache;
}

/** The stats record of a request refused before serving took it (auth, bad JSON, body too large). */
function refusedRecord(req: FastifyRequest, error: ServerError, outcome?: "cancelled"): RequestRecord {
  return refusalRecord(
    { requestId: req.id, route: routeLabel(req), clientRequestId: req.clientRequestId },
    error,
    outcome,
  );
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const auth = new ApiKeyAuth(deps.config);
  /** Counts, logs (route, code, message, param) and answers a request refused outside serving. */
  const record = (r: RequestRecord): void => {
    deps.stats.requestFinished(r);
    deps.metrics.observeRequest(r);
    logRequestFinished(deps.logger, r);
  };
  const refuse = (req: FastifyRequest, reply: FastifyReply, error: ServerError): FastifyReply => {
    record(refusedRecord(req, error));
    return reply.code(error.status).headers(error.headers).send(errorEnvelope(error));
  };

  const app = Fastify({
    logger: false,
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: () => newRequestId(),
    // Keep-alive connections must not hold shutdown open.
    forceCloseConnections: "idle",
    // The whole request (headers and body) within this, whatever the pace: the stall timeout's
    // backstop against a client that sends a byte just often enough.
    requestTimeout: Math.max(60_000, 4 * deps.config.bodyTimeoutMs),
    // Refusals before parsing (431, 414, 400, 408) are logged and counted like any other.
    clientErrorHandler: clientErrorHandler(record),
    frameworkErrors: (error, req, reply) => {
      req.clientRequestId = clientRequestId(req.headers);
      void reply.header("x-request-id", req.id);
      refuse(req, reply, frameworkErrorToServerError(error));
    },
  });
  app.server.headersTimeout = Math.min(60_000, deps.config.bodyTimeoutMs);
  if (deps.config.maxConnections > 0) app.server.maxConnections = deps.config.maxConnections;
  // Set by the auth hook before any handler runs; null only for requests it never saw.
  app.decorateRequest("principal", undefined);
  app.decorateRequest("clientRequestId", undefined);

  const routeTable: Array<readonly [string, string]> = [];
  app.decorate("routeTable", routeTable);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routeTable.push([method, route.url]);
  });

  registerBodyGuard(app, { idleMs: deps.config.bodyTimeoutMs });

  app.addHook("onRequest", (req, reply, done) => {
    req.clientRequestId = clientRequestId(req.headers);
    void reply.header("x-request-id", req.id);
    if (req.clientRequestId !== undefined) void reply.header("x-client-request-id", req.clientRequestId);
    // The route fastify matched, never the raw URL (auth.ts says why).
    const result = auth.check(req.routeOptions.url, req.headers.authorization);
    if (!result.ok) {
      const message =
        result.reason === "missing"
          ? "missing API key: send 'Authorization: Bearer <key>'"
          : result.reason === "malformed"
            ? "the Authorization header must be 'Bearer <key>'"
            : "incorrect API key provided";
      refuse(req, reply, new ServerError("invalid_api_key", message));
      return;
    }
    req.principal = result.principal;
    done();
  });

  app.setErrorHandler((error, req, reply) => {
    if (isClientGone(error, req.raw)) {
      // The client dropped its upload: a cancel, not a server error (no ERROR line, no 5xx count).
      const record = refusedRecord(
        req,
        new ServerError("request_cancelled", "the client closed the connection while sending the body"),
        "cancelled",
      );
      deps.stats.requestFinished(record);
      deps.metrics.observeRequest(record);
      deps.logger.info({ request_id: req.id, route: record.route }, "client went away during the upload");
      return reply.code(499).send();
    }
    const serverError = toServerError(error);
    if (serverError.status >= 500) deps.logger.error({ err: error, request_id: req.id }, "unhandled error");
    return refuse(req, reply, serverError);
  });

  app.setNotFoundHandler((req, reply) => {
    const error = new ServerError("not_found", `no route for ${routeLabel(req)}`);
    return refuse(req, reply, error);
  });

  const renderPool = deps.renderPool ?? new RenderPool({ threads: 1 });
  if (deps.renderPool === undefined) app.addHook("onClose", () => renderPool.close());
  const responseCache =
    deps.responseCache ??
    new ResponseCache({
      enabled: deps.config.responseCache,
      maxBytes: deps.config.responseCacheBytes,
      ttlMs: deps.config.responseCacheTtlMs,
    });
  const routeDeps: RouteDeps = { ...deps, owners: new RequestOwners(), renderPool, responseCache };
  registerChatRoutes(app, routeDeps);
  registerResponsesRoutes(app, routeDeps);
  registerCompletionsRoutes(app, routeDeps);
  registerTokenizeRoutes(app, routeDeps);
  registerOpsRoutes(app, routeDeps);
  registerDashboardRoutes(app, routeDeps);
  return app;
}
