/**
 * The body of `GET /dashboard/data`: the history's samples since a time, plus what is true now:
 * health (status, score, SLO breaches, and `alerts` when /health has them), totals since start,
 * the last errors, and the prompt cache's figures when /stats has them ("off" otherwise).
 *
 * /health is the one owner of status, score and alerts, so this reads its body rather than
 * recomputing them; fields another part of the server adds later (`alerts`, `stats.cache`) are
 * read defensively and passed on only when they have the expected shape.
 */
import type { CacheFigures, DashboardData } from "../metrics/dashboard-types.ts";
import type { StatsHistory } from "../metrics/stats-history.ts";
import { healthBody, type StatusDeps } from "./status.ts";

export interface DashboardDeps extends StatusDeps {
  history: StatsHistory;
  isShuttingDown: () => boolean;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function numOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** `/stats.cache = {enabled, hits, misses, entries, bytes}` when present. */
export function cacheFigures(cache: unknown): CacheFigures | null {
  if (!isObject(cache) || typeof cache["enabled"] !== "boolean") return null;
  const hits = num(cache["hits"]);
  const misses = num(cache["misses"]);
  return {
    enabled: cache["enabled"],
    hits,
    misses,
    entries: numOrNull(cache["entries"]),
    bytes: numOrNull(cache["bytes"]),
    hit_rate: hits + misses > 0 ? Math.round((hits / (hits + misses)) * 1000) / 1000 : null,
  };
}

/** status, score, breaches and (when /health has them) alerts, from the /health body. */
export function healthFigures(body: unknown): DashboardData["health"] {
  const b = isObject(body) ? body : {};
  const breaches = Array.isArray(b["breaches"])
    ? b["breaches"].filter((x): x is string => typeof x === "string")
    : [];
  return {
    status: typeof b["status"] === "string" ? b["status"] : "unknown",
    score: num(b["score"]),
    breaches,
    ...(isObject(b["alerts"]) ? { alerts: b["alerts"] } : {}),
  };
}

export function dashboardData(deps: DashboardDeps, sinceMs: number): DashboardData {
  const { body } = healthBody(deps, deps.isShuttingDown());
  const stats = isObject(body) && isObject(body["stats"]) ? body["stats"] : {};
  const tokens = isObject(stats["tokens"]) ? stats["tokens"] : {};
  return {
    now: Date.now(),
    interval_ms: deps.history.intervalMs,
    samples: deps.history.since(sinceMs),
    health: healthFigures(body),
    slo: {
      error_rate: deps.config.sloErrorRate,
      p95_ttft_ms: deps.config.sloP95TtftMs,
      p95_e2e_ms: deps.config.sloP95E2eMs,
    },
    totals: {
      requests: num(stats["requests_total"]),
      success: num(stats["requests_success"]),
      failed: num(stats["requests_failed"]),
      rejected: num(stats["requests_rejected"]),
      cancelled: num(stats["requests_cancelled"]),
      completion_tokens: num(tokens["completion"]),
      uptime_seconds: num(stats["uptime_seconds"]),
    },
    errors: deps.stats.recentErrors(),
    cache: cacheFigures(stats["cache"]),
    models: deps.pool.models.map((m) => m.id),
  };
}
