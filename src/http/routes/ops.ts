/** Models, cancel, health, stats, metrics and profiles: the operational surface of v4.5.1, working. */
import type { FastifyInstance } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import type { ModelListWire, ModelWire } from "../../protocol/models.ts";
import type { EngineWorkerReport, UpstreamReport } from "../../metrics/prometheus.ts";
import type { ServedModel } from "../../serving/model-pool.ts";
import {
  healthBody,
  healthScoreBody,
  parallelismOf,
  profilesBody,
  readiness,
  statsBody,
} from "../../serving/status.ts";
import type { RouteDeps } from "../app.ts";
import { ANONYMOUS } from "../auth.ts";

/** A model's engine workers for /metrics: each replica's, or the one worker's as replica "0". */
function engineWorkers(m: ServedModel): EngineWorkerReport[] {
  const h = m.engine.health();
  const workers = h.replicas?.map((r) => r.worker) ?? [h.worker];
  return workers.flatMap((w, i) =>
    w === undefined
      ? []
      : [
          {
            model_id: m.id,
            replica: String(i),
            restarts: w.restarts,
            ...(w.lastExit !== undefined ? { lastExit: w.lastExit } : {}),
          },
        ],
  );
}

/** A gateway's upstreams for /metrics: each replica that is an upstream server, or the one. */
function upstreamReports(m: ServedModel): UpstreamReport[] {
  const h = m.engine.health();
  const all = h.replicas ?? [h];
  return all.flatMap((r) =>
    r.upstream === undefined
      ? []
      : [
          {
            model_id: m.id,
            upstream: r.upstream.url,
            dialect: r.upstream.dialect,
            up: r.status === "ready",
            inFlight: r.activeSequences,
            requests: r.upstream.requests,
            failures: r.upstream.failures,
            rateLimited: r.upstream.rateLimited,
          },
        ],
  );
}

export function registerOpsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const created = Math.floor(Date.now() / 1000);

  const modelWire = (m: ServedModel): ModelWire => ({
    id: m.id,
    object: "model",
    created,
    owned_by: m.engine.info.randomWeights ? "gpt-oss-server (random weights: output is noise)" : "openai",
    random_weights: m.engine.info.randomWeights,
    context_length: m.engine.info.contextSize,
  });

  app.get("/v1/models", (): ModelListWire => ({ object: "list", data: deps.pool.models.map(modelWire) }));

  // OpenAI's retrieve-model. A wildcard, since ids may hold slashes (openai/gpt-oss-20b); any
  // spelling the router reads finds the served model; no fallback here (a 404 tells what is served).
  app.get<{ Params: { "*": string } }>("/v1/models/*", (req) => {
    const id = req.params["*"];
    const model = deps.pool.find(id);
    if (model === undefined) {
      throw new ServerError(
        "model_not_found",
        `The model '${id}' does not exist here. Served: ${deps.pool.models.map((m) => m.id).join(", ")}`,
        { param: "model" },
      );
    }
    return modelWire(model);
  });

  app.post<{ Params: { id: string } }>("/v1/cancel/:id", (req) => {
    // Another key's request answers exactly as an unknown id (request-owners.ts).
    const id = deps.owners.resolve(req.params.id, req.principal ?? ANONYMOUS);
    const model = id === undefined ? undefined : deps.pool.findRunning(id);
    if (id === undefined || model === undefined || !model.scheduler.cancel(id, "cancel_endpoint")) {
      throw new ServerError("request_not_found", `no request '${req.params.id}' is in flight`, {
        param: "request_id",
      });
    }
    return { status: "cancelled", request_id: id };
  });

  app.get("/health", (_req, reply) => {
    const { status, body } = healthBody(deps, deps.isShuttingDown());
    return reply.code(status).send(body);
  });

  // Liveness: the process answers HTTP. A probe that restarts on this must not restart a server
  // that is merely loading or overloaded.
  app.get("/health/live", () => ({ status: "alive" }));

  // Readiness: whether to send traffic here (serving/status.ts readiness()).
  app.get("/health/ready", (_req, reply) => {
    const r = readiness(deps, deps.isShuttingDown());
    return reply
      .code(r.ready ? 200 : 503)
      .send({ status: r.state, ...(r.reason !== undefined ? { reason: r.reason } : {}) });
  });

  app.get("/health/score", () => healthScoreBody(deps));

  app.get("/stats", () => statsBody(deps));

  app.get("/metrics", async (_req, reply) => {
    let active = 0;
    let queued = 0;
    for (const m of deps.pool.models) {
      const s = m.scheduler.snapshot();
      active += s.active;
      queued += s.queued;
    }
    deps.metrics.setQueue(active, queued);
    deps.metrics.setActiveStreams(deps.stats.activeStreams);
    deps.metrics.setModels(
      deps.pool.models.map((m) => ({
        model_id: m.id,
        model_size: m.size,
        engine: m.engineType,
        gpu_mode: m.engine.info.gpuMode,
        tp: String(parallelismOf(m).tp),
        pp: String(parallelismOf(m).pp),
        max_model_len: String(m.engine.info.contextSize),
      })),
    );
    deps.metrics.setEngineWorkers(deps.pool.models.flatMap(engineWorkers));
    deps.metrics.setUpstreams(deps.pool.models.flatMap(upstreamReports));
    deps.metrics.setResponseCache(deps.responseCache.stats());
    return reply.header("content-type", deps.metrics.contentType).send(await deps.metrics.render());
  });

  app.get("/profiles", () => profilesBody(deps.config));
}
