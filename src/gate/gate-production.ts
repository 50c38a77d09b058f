/**
 * Production mode: how the server scales and whether it holds a rate.
 * concurrency steps (closed loop at 1, 2, 4, 8, 16 users) → spike (open loop well above the target
 * rate, then the server must settle) → soak (open loop at the target rate, judged in windows).
 */
import { atLeast, atMost, fmtMs, fmtPct, holds, phase, qpsText } from "./checks.ts";
import { closedLoopLoad, openLoopLoad, runPhases, send, chatBody, type GateContext } from "./gate-context.ts";
import { waitIdle } from "./gate-health.ts";
import type { Check, PhaseReport } from "./gate-types.ts";
import type { RequestResult } from "./request-result.ts";
import { latencyStats, stabilityWindows, stableFraction, type LatencyStats } from "./stats-math.ts";

export async function concurrencyPhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const { thresholds, steps, stepMs } = ctx.options;
  const parts: Record<string, LatencyStats> = {};
  const all: RequestResult[] = [];
  const checks: Check[] = [];
  for (const users of steps) {
    const results = await closedLoopLoad(ctx, `concurrency ${users}`, users, stepMs);
    const stats = latencyStats(results);
    parts[`${users}`] = stats;
    all.push(...results);
    ctx.log(
      `  [concurrency] ${users} user(s): ${stats.requests} requests, ${qpsText(stats.qps ?? 0)}, ` +
        `${(stats.outputTokensPerS ?? 0).toFixed(1)} tok/s, p95 E2E ${fmtMs(stats.e2eMs.p95)}`,
    );
    checks.push(atMost(`p95 E2E at ${users}`, stats.e2eMs.p95, thresholds.maxP95E2eMs, fmtMs));
    checks.push(atMost(`error rate at ${users}`, stats.errorRate, thresholds.maxErrorRate, fmtPct));
  }
  return phase("concurrency", startedAt, ctx.clock.now(), {
    summary: `closed loop: ${steps.join(", ")} concurrent streams, ${fmtMs(stepMs)} each`,
    checks,
    notes: [],
    stats: latencyStats(all),
    parts,
  });
}

export async function spikePhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const { thresholds, spikeRate, stepMs } = ctx.options;
  const run = await openLoopLoad(ctx, "spike", spikeRate, stepMs, ctx.options.seed + 1);
  const stats = latencyStats(run.results, { start: run.startedAt, end: run.startedAt + stepMs });
  const checks: Check[] = [
    atMost("error rate", stats.errorRate, thresholds.maxErrorRate, fmtPct),
    atMost("p95 E2E", stats.e2eMs.p95, thresholds.maxP95E2eMs, fmtMs),
  ];
  const notes: string[] = [];
  const rejected = run.results.filter((r) => r.status === 429).length;
  if (rejected > 0) notes.push(`${rejected} request(s) got 429 (queue full): counted as errors`);
  if (ctx.target.extras) {
    const active = await waitIdle(ctx, 30_000);
    checks.push(
      holds("settles to no active requests", active === 0, active === null ? "n/a" : String(active)),
    );
  }
  const after = await send(ctx, "spike", chatBody(ctx, { stream: true, index: 0 }));
  checks.push(holds("next request succeeds", after.ok, after.ok ? "yes" : (after.error ?? "no")));
  return phase("spike", startedAt, ctx.clock.now(), {
    summary: `open loop at ${spikeRate} req/s for ${fmtMs(stepMs)}, then recovery`,
    checks,
    notes,
    stats,
  });
}

export async function soakPhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const { thresholds, rate, durationMs, windowMs } = ctx.options;
  const run = await openLoopLoad(ctx, "soak", rate, durationMs, ctx.options.seed + 2);
  const stats = latencyStats(run.results, { start: run.startedAt, end: run.startedAt + durationMs });
  const windows = stabilityWindows(run.results, run.startedAt, durationMs, {
    windowMs,
    maxErrorRate: thresholds.maxErrorRate,
    maxP95E2eMs: thresholds.maxP95E2eMs,
  });
  const checks: Check[] = [
    atLeast(`QPS sustained at ${rate} offered`, stats.qps, thresholds.minQps, qpsText),
    atMost("error rate", stats.errorRate, thresholds.maxErrorRate, fmtPct),
    atMost("p95 E2E", stats.e2eMs.p95, thresholds.maxP95E2eMs, fmtMs),
    atLeast("stable windows", stableFraction(windows), thresholds.minStableWindows, fmtPct),
  ];
  if (thresholds.maxP95TtftMs !== undefined) {
    checks.splice(2, 0, atMost("p95 TTFT", stats.ttftMs.p95, thresholds.maxP95TtftMs, fmtMs));
  }
  const notes = [
    `offered ${run.offered} requests in ${fmtMs(durationMs)} (${(run.offered / (durationMs / 1000)).toFixed(2)} req/s realised)`,
    `${windows.length} window(s) of ${fmtMs(windowMs)}, grouped by send time`,
  ];
  if (run.maxSendLagMs > 100) notes.push(`the client sent up to ${fmtMs(run.maxSendLagMs)} late`);
  return phase("soak", startedAt, ctx.clock.now(), {
    summary: `open-loop ${ctx.options.arrival} arrivals at ${rate} req/s for ${fmtMs(durationMs)}`,
    checks,
    notes,
    stats,
    windows,
  });
}

export function productionPhases(ctx: GateContext): Promise<PhaseReport[]> {
  return runPhases(ctx, [
    ["concurrency", concurrencyPhase],
    ["spike", spikePhase],
    ["soak", soakPhase],
  ]);
}
