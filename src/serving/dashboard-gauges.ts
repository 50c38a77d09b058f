/**
 * What the dashboard's history samples from the model pool each second: each model's queue and
 * running requests (its scheduler), and each replica's or upstream's state and running requests
 * (its engine's health). A model served by one local engine has no replica entry: its own figures
 * say it all.
 */
import type { EngineHealth } from "../engines/engine.ts";
import type { LoadGauges, ReplicaFigures } from "../metrics/dashboard-types.ts";
import type { ModelPool } from "./model-pool.ts";

/** An upstream whose circuit is open is skipped by the router: "open" says more than "ready". */
function statusOf(h: EngineHealth): string {
  return h.upstream?.circuit === "open" ? "open" : h.status;
}

export function loadGauges(pool: ModelPool): LoadGauges {
  const models: LoadGauges["models"] = {};
  const replicas: Record<string, ReplicaFigures> = {};
  for (const m of pool.models) {
    const s = m.scheduler.snapshot();
    models[m.id] = { queued: s.queued, active: s.active };
    const h = m.engine.health();
    if (h.replicas !== undefined) {
      h.replicas.forEach((r, index) => {
        const name = r.upstream?.url ?? `${m.id}#${index}`;
        replicas[name] = { model_id: m.id, status: statusOf(r), running: r.running };
      });
    } else if (h.upstream !== undefined) {
      replicas[h.upstream.url] = { model_id: m.id, status: statusOf(h), running: h.activeSequences };
    }
  }
  return { models, replicas };
}
