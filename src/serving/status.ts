/**
 * /health, /health/score, /stats and /profiles bodies, built from the stats collector, the model
 * pool and the config. Field names follow shared/design/api-contract.md (v4.5.1's plus ours).
 */
import { engineProcessView, replicaStats } from "./engine-health-view.ts";
import { effectiveProfiles } from "../config/effective-profiles.ts";
import type { ServerConfig } from "../config/schema.ts";
import { PROFILE_NAMES, type Profile } from "../config/profiles.ts";
import type { ProfileConfigWire, ProfileWire } from "../protocol/profiles.ts";
import { healthScore, type HealthScore } from "../metrics/health-score.ts";
import type { AlertsWire } from "../metrics/slo-alerts.ts";
import type { StatsCollector } from "../metrics/stats-collector.ts";
import type { ModelInfo, ReplicaStats, ResponseCacheStats, StatsSnapshot } from "../metrics/stats-types.ts";
import type { ResponseCache } from "./response-cache.ts";
import type { ModelPool, ServedModel } from "./model-pool.ts";

export interface StatusDeps {
  config: ServerConfig;
  pool: ModelPool;
  stats: StatsCollector;
  /** SLO alerts (observability/slo-alert-monitor.ts); absent: none. */
  alerts?: { view(): AlertsWire } | undefined;
  /** Absent: reported as a disabled, empty cache. */
  responseCache?: ResponseCache;
}

const NO_RESPONSE_CACHE: ResponseCacheStats = Object.freeze({
  enabled: false,
  hits: 0,
  misses: 0,
  entries: 0,
  bytes: 0,
  max_bytes: 0,
});

function queueTotals(pool: ModelPool): { active: number; queued: number } {
  let active = 0;
  let queued = 0;
  for (const m of pool.models) {
    const s = m.scheduler.snapshot();
    active += s.active;
    queued += s.queued;
  }
  return { active, queued };
}

/** A profile's fields in v4.5.1's snake_case (the domain Profile is camelCase). */
export function profileConfigWire(p: Readonly<Profile>): ProfileConfigWire {
  return {
    model: p.model,
    gpu_mode: p.gpuMode,
    max_batch_size: p.maxBatchSize,
    prefill_window_ms: p.prefillWindowMs,
    decode_window_ms: p.decodeWindowMs,
    max_new_tokens: p.maxNewTokens,
    temperature: p.temperature,
    timeout_ms: p.timeoutMs,
    priority: p.priority,
  };
}

function profileWire(p: Readonly<Profile>): ProfileWire {
  return { name: p.name, description: p.description, ...profileConfigWire(p) };
}

/**
 * v4.5.1's parallelism tags: tensor parallel (tp) and pipeline parallel (pp) degrees from the GPU
 * mode and count (llama.cpp splits layers, "pipeline"; tensor mode needs vLLM), and the context.
 */
export function parallelismOf(m: ServedModel): { gpu_count: number | null; tp: number; pp: number } {
  const gpus = m.engine.info.gpuCount ?? (m.engine.info.gpuMode === "cpu" ? 0 : null);
  const degree = Math.max(1, gpus ?? 1);
  const mode = m.engine.info.gpuMode;
  return { gpu_count: gpus, tp: mode === "tensor" ? degree : 1, pp: mode === "pipeline" ? degree : 1 };
}

export function modelInfo(deps: StatusDeps): ModelInfo {
  const first = deps.pool.models[0];
  return {
    current_model: first?.size ?? deps.config.model.join(","),
    gpu_mode: first?.engine.info.gpuMode ?? deps.config.gpuMode,
    default_profile: deps.config.profile,
    models: deps.pool.models.map((m) => m.id),
    random_weights: deps.pool.models.some((m) => m.engine.info.randomWeights),
  };
}

/**
 * The /stats body: the collector's snapshot plus each replica's routing figures (`replicas`) and
 * the response cache's counts (`cache`).
 */
export function statsBody(
  deps: StatusDeps,
): StatsSnapshot & { replicas: ReplicaStats[]; cache: ResponseCacheStats } {
  return {
    ...deps.stats.snapshot({ modelInfo: modelInfo(deps), queueLength: queueTotals(deps.pool).queued }),
    replicas: deps.pool.models.flatMap((m) => replicaStats(m.id, m.engine.health())),
    cache: deps.responseCache?.stats() ?? { ...NO_RESPONSE_CACHE },
  };
}

function score(deps: StatusDeps, stats: StatsSnapshot): HealthScore {
  return healthScore(stats, {
    errorRate: deps.config.sloErrorRate,
    p95E2eMs: deps.config.sloP95E2eMs,
    p95TtftMs: deps.config.sloP95TtftMs,
  });
}

export function healthScoreBody(deps: StatusDeps): { score: number; status: string; breaches: string[] } {
  return score(deps, statsBody(deps));
}

/** Engine failures in a row (since the last success) after which the server is not ready. */
export const UNREADY_AFTER_ENGINE_FAILURES = 5;

/**
 * How long a failure streak keeps the server unready after its last failure. A load balancer sends
 * no traffic to an unready server, so the success that would end the streak never comes: without
 * this the server would stay out of rotation until restarted. After the cool-down it is ready
 * again (a half-open circuit breaker): one more engine failure, the streak still unbroken, makes
 * it unready again at once; a success ends the streak.
 */
export const ENGINE_FAILURE_COOLDOWN_MS = 30_000;

export interface Readiness {
  ready: boolean;
  /** loading, restarting, ready, unhealthy or shutting_down. */
  state: string;
  /** Why not ready, for a person reading a probe's answer. */
  reason?: string;
}

/** An engine's health that is not ready → the readiness it means. */
function engineUnready(id: string, h: { status: string; detail?: string | undefined }): Readiness {
  // A worker process being restarted after a crash (engines/worker/worker-engine.ts) says
  // "loading" with detail "restarting…": it will be back on its own, unlike a failed engine.
  const detail = h.detail ?? "no detail";
  if (h.status === "loading" && /restarting/.test(detail)) {
    return { ready: false, state: "restarting", reason: `engine ${id} is ${detail}` };
  }
  return { ready: false, state: "unhealthy", reason: `engine ${id} is ${h.status}: ${detail}` };
}

/**
 * Whether this server should get traffic: loaded, not shutting down, every engine ready (an engine
 * whose core failed or whose model produced non-finite logits says so in its health; a worker
 * being restarted reports "restarting"), and the engine not failing request after request (for
 * ENGINE_FAILURE_COOLDOWN_MS after the last failure). A client's bad input never makes it unready.
 */
export function readiness(deps: StatusDeps, shuttingDown: boolean): Readiness {
  if (shuttingDown) return { ready: false, state: "shutting_down", reason: "the server is shutting down" };
  const state = deps.pool.state;
  if (state === "loading") return { ready: false, state: "loading", reason: "the model is loading" };
  if (state === "failed") {
    return {
      ready: false,
      state: "unhealthy",
      reason: `the engine failed to start: ${deps.pool.failure ?? ""}`,
    };
  }
  for (const m of deps.pool.models) {
    const h = m.engine.health();
    if (h.status !== "ready") return engineUnready(m.id, h);
  }
  const failures = deps.stats.consecutiveEngineFailures;
  const since = deps.stats.msSinceLastEngineFailure;
  if (
    failures >= UNREADY_AFTER_ENGINE_FAILURES &&
    since !== undefined &&
    since < ENGINE_FAILURE_COOLDOWN_MS
  ) {
    return {
      ready: false,
      state: "unhealthy",
      reason:
        `the last ${failures} requests failed in the engine (engine_error); none succeeded since ` +
        `(ready again ${Math.ceil((ENGINE_FAILURE_COOLDOWN_MS - since) / 1000)} s after the last failure)`,
    };
  }
  return { ready: true, state: "ready" };
}

/** The /health body and its HTTP status: 503 whenever the server is not ready (readiness()). */
export function healthBody(deps: StatusDeps, shuttingDown: boolean): { status: number; body: unknown } {
  const stats = statsBody(deps);
  const scored = score(deps, stats);
  const queue = queueTotals(deps.pool);
  const ready = readiness(deps, shuttingDown);
  const status = ready.ready
    ? scored.status
    : ready.state === "loading" || ready.state === "restarting"
      ? ready.state
      : "unhealthy";
  // Keyed by engine type as v4.5.1 keyed them (custom, vllm); a second model of one type gets `:id`.
  const engines: Record<string, unknown> = {};
  for (const m of deps.pool.models) {
    const h = m.engine.health();
    const s = m.scheduler.snapshot();
    const key = m.engineType in engines ? `${m.engineType}:${m.id}` : m.engineType;
    engines[key] = {
      status: h.status,
      engine: m.engine.info.name,
      model_id: m.id,
      score: h.status === "ready" ? scored.score : 0,
      latency_ms: h.lastStepMs ?? null,
      active_requests: s.active,
      queued_requests: s.queued,
      max_sequences: m.engine.info.maxSequences,
      context_size: m.engine.info.contextSize,
      // A worker process (restarts, last exit) and, with replicas, each replica.
      ...engineProcessView(h),
    };
  }
  // The caps in force (--max-batch-size, --parallel), not the bare v4.5.1 table.
  const profile = effectiveProfiles(deps.config)[deps.config.profile];
  const first = deps.pool.models[0];
  const modelSize = first?.size ?? deps.config.model.join(",");
  const gpuMode = first?.engine.info.gpuMode ?? deps.config.gpuMode;
  const body = {
    status,
    score: scored.score,
    // v4.4's examples read these at the top level.
    gpu_count: first !== undefined ? parallelismOf(first).gpu_count : null,
    model_size: modelSize,
    gpu_mode: gpuMode,
    breaches: scored.breaches,
    // SLO alerts over the alert window, with hysteresis (metrics/slo-alerts.ts); `breaches` is the
    // score's instant view over the stats window.
    alerts: deps.alerts?.view() ?? { active: [], recent: [] },
    ...(deps.pool.failure !== undefined ? { error: deps.pool.failure } : {}),
    ...(ready.reason !== undefined ? { reason: ready.reason } : {}),
    model_info: modelInfo(deps),
    engines,
    stats,
    active_requests: queue.active,
    queue_length: queue.queued,
    config: {
      engine_type: deps.config.engine,
      model_size: modelSize,
      gpu_mode: gpuMode,
      default_profile: deps.config.profile,
      current_profile: profileWire(profile),
      default_max_tokens: deps.config.defaultMaxTokens,
      max_tokens_cap: deps.config.maxTokensCap ?? null,
      strict_model_names: deps.config.strictModelNames,
      sse_keepalive_ms: deps.config.sseKeepaliveMs,
      features: {
        streaming: true,
        cancel: true,
        prefix_cache: deps.pool.models.some((m) => m.engine.info.capabilities.prefixCache),
        profiles: true,
        reasoning: true,
        tools: true,
        metrics: true,
      },
    },
  };
  return { status: ready.ready ? 200 : 503, body };
}

export function profilesBody(config: ServerConfig): unknown {
  return {
    profiles: [
      ...PROFILE_NAMES.map((name) => {
        const profile = effectiveProfiles(config)[name];
        return { name, description: profile.description, config: profileConfigWire(profile) };
      }),
    ],
    auto: 'profile: "auto" picks latency_first for short prompts and answers, quality_first when more than 1024 output tokens are asked, balanced otherwise',
    default: config.profile,
  };
}
