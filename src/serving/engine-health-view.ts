/**
 * What /health shows of how an engine runs: its worker process (pid, restarts, last exit) and, for
 * several replicas, each replica's state. Snake case, as the rest of /health.
 */
import type { EngineHealth, ReplicaRouting, UpstreamHealth } from "../engines/engine.ts";
import type { ReplicaStats, UpstreamStats } from "../metrics/stats-types.ts";

type WorkerHealth = NonNullable<EngineHealth["worker"]>;

function workerView(w: WorkerHealth): Record<string, unknown> {
  const exit = w.lastExit;
  return {
    pid: w.pid,
    restarts: w.restarts,
    last_exit:
      exit === undefined
        ? null
        : {
            code: exit.code,
            signal: exit.signal,
            reason: exit.reason,
            at: exit.at,
            stderr_tail: exit.stderrTail,
          },
  };
}

/** An upstream server of a gateway, snake case. */
export function upstreamView(u: UpstreamHealth): UpstreamStats {
  return {
    url: u.url,
    dialect: u.dialect,
    weight: u.weight,
    circuit: u.circuit,
    requests: u.requests,
    failures: u.failures,
    rate_limited: u.rateLimited,
    last_error: u.lastError ?? null,
  };
}

export function engineProcessView(h: EngineHealth): Record<string, unknown> {
  return {
    ...(h.worker !== undefined ? { worker: workerView(h.worker) } : {}),
    ...(h.upstream !== undefined ? { upstream: upstreamView(h.upstream) } : {}),
    ...(h.replicas !== undefined
      ? {
          replicas: h.replicas.map((r, index) => ({
            index,
            status: r.status,
            ...(r.detail !== undefined ? { detail: r.detail } : {}),
            active_sequences: r.activeSequences,
            running_requests: r.running,
            ...routingView(r.routing),
            ...(r.worker !== undefined ? { worker: workerView(r.worker) } : {}),
            ...(r.upstream !== undefined ? { upstream: upstreamView(r.upstream) } : {}),
          })),
        }
      : {}),
  };
}

function routingView(
  r: ReplicaRouting,
): Omit<ReplicaStats, "model_id" | "index" | "status" | "running_requests" | "restarts" | "upstream"> {
  return {
    requests: r.requests,
    completion_tokens: r.completionTokens,
    affinity_hits: r.affinityHits,
    spill_overs: r.spillOvers,
    failovers: r.failovers,
  };
}

/** /stats's `replicas`: each replica of a model served by several, with what the router sent it. */
export function replicaStats(modelId: string, h: EngineHealth): ReplicaStats[] {
  return (h.replicas ?? []).map((r, index) => ({
    model_id: modelId,
    index,
    status: r.status,
    running_requests: r.running,
    ...routingView(r.routing),
    restarts: r.worker?.restarts ?? 0,
    ...(r.upstream !== undefined ? { upstream: upstreamView(r.upstream) } : {}),
  }));
}
