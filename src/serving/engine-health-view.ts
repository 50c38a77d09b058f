/**
 * What /health shows of how an engine runs: its worker process (pid, restarts, last exit) and, for
 * several replicas, each replica's state. Snake case, as the rest of /health.
 */
import type { EngineHealth } from "../engines/engine.ts";

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

export function engineProcessView(h: EngineHealth): Record<string, unknown> {
  return {
    ...(h.worker !== undefined ? { worker: workerView(h.worker) } : {}),
    ...(h.replicas !== undefined
      ? {
          replicas: h.replicas.map((r, index) => ({
            index,
            status: r.status,
            ...(r.detail !== undefined ? { detail: r.detail } : {}),
            active_sequences: r.activeSequences,
            running_requests: r.running,
            ...(r.worker !== undefined ? { worker: workerView(r.worker) } : {}),
          })),
        }
      : {}),
  };
}
