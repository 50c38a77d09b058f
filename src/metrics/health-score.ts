/**
 * The v4.5.1 health score (shared/design/api-contract.md, /health): start at 1.0, −0.2 when the
 * error rate exceeds its SLO, −0.1 when p95 end-to-end exceeds its SLO, −0.1 when p95 TTFT exceeds
 * its SLO; healthy above 0.7, degraded above 0.3, else unhealthy.
 *
 * Thresholds are strict ("above"), as the contract says, so 0.7 is DEGRADED. The v4.5.1 report shows
 * `"status": "healthy", "score": 0.7` for a server failing 30% of its requests: in floating point
 * 1.0 − 0.2 − 0.1 is 0.7000000000000001, which is "above 0.7", so the seed called a server that
 * breached two SLOs healthy by accident. We count penalties in integer tenths so 0.7 is exactly 0.7,
 * and a server that breaches its error SLO and a latency SLO reads as degraded.
 *
 * The penalties alone bottom out at 0.6; "unhealthy" is for the caller to report when the engine
 * is down or loading fails (/health decides that from the engine's own health).
 * A percentile with no data (null) breaches nothing.
 */
import type { StatsSnapshot } from "./stats-types.ts";

export interface HealthSlo {
  /** Fraction, e.g. 0.01. */
  errorRate: number;
  p95E2eMs: number;
  p95TtftMs: number;
}

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface HealthScore {
  score: number;
  status: HealthStatus;
  /** Which SLOs were breached, for /health and logs. */
  breaches: ("error_rate" | "p95_e2e" | "p95_ttft")[];
}

export function healthScore(
  stats: Pick<StatsSnapshot, "error_rate" | "p95_e2e_ms" | "p95_ttft_ms">,
  slo: HealthSlo,
): HealthScore {
  const breaches: HealthScore["breaches"] = [];
  let tenths = 10;
  if (stats.error_rate > slo.errorRate) {
    tenths -= 2;
    breaches.push("error_rate");
  }
  if (stats.p95_e2e_ms !== null && stats.p95_e2e_ms > slo.p95E2eMs) {
    tenths -= 1;
    breaches.push("p95_e2e");
  }
  if (stats.p95_ttft_ms !== null && stats.p95_ttft_ms > slo.p95TtftMs) {
    tenths -= 1;
    breaches.push("p95_ttft");
  }
  return { score: tenths / 10, status: statusForTenths(tenths), breaches };
}

function statusForTenths(tenths: number): HealthStatus {
  if (tenths > 7) return "healthy";
  if (tenths > 3) return "degraded";
  return "unhealthy";
}

/** Status for a score computed elsewhere (e.g. an engine's own score), same thresholds. */
export function statusForScore(score: number): HealthStatus {
  return statusForTenths(Math.round(score * 10 * 1e6) / 1e6);
}
