/**
 * Personal mode: the seed's release gate for one user's server, measured honestly.
 * latency (non-streaming, each profile) → streaming (TTFT at the first streamed token) → cancel
 * (by X-Request-Id) → stability (open-loop arrivals at a target rate).
 */
import { atLeast, atMost, fmtMs, fmtPct, holds, phase, qpsText } from "./checks.ts";
import { chatBody, openLoopLoad, runPhases, send, type GateContext } from "./gate-context.ts";
import { waitIdle } from "./gate-health.ts";
import type { Check, PhaseReport } from "./gate-types.ts";
import type { RequestResult } from "./request-result.ts";
import { latencyStats, stabilityWindows, type LatencyStats } from "./stats-math.ts";

const PROFILES = ["latency_first", "quality_first", "balanced"] as const;

export async function latencyPhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const { thresholds, samples } = ctx.options;
  const profiles: Array<string | undefined> = ctx.target.extras ? [...PROFILES] : [undefined];
  const all: RequestResult[] = [];
  const parts: Record<string, LatencyStats> = {};
  const checks: Check[] = [];
  for (const profile of profiles) {
    const name = profile ?? "default";
    const results: RequestResult[] = [];
    for (let i = 0; i < samples; i++) {
      const body = chatBody(ctx, { stream: false, index: i, ...(profile !== undefined ? { profile } : {}) });
      results.push(await send(ctx, `latency ${name}`, body));
    }
    const stats = latencyStats(results);
    parts[name] = stats;
    all.push(...results);
    ctx.log(`  [latency] ${name}: p50 ${fmtMs(stats.e2eMs.p50)}, p95 ${fmtMs(stats.e2eMs.p95)}`);
    checks.push(atMost(`p95 E2E ${name}`, stats.e2eMs.p95, thresholds.maxP95E2eMs, fmtMs));
  }
  const stats = latencyStats(all);
  checks.push(atMost("error rate", stats.errorRate, thresholds.maxErrorRate, fmtPct));
  return phase("latency", startedAt, ctx.clock.now(), {
    summary: `${samples} non-streaming request(s) one at a time per profile (${profiles.map((p) => p ?? "default").join(", ")})`,
    checks,
    notes: ctx.target.extras ? [] : ["no `profile` field on this server: one run with its defaults"],
    stats,
    parts,
  });
}

export async function streamingPhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const { thresholds } = ctx.options;
  const count = ctx.options.samples * 2;
  const results: RequestResult[] = [];
  for (let i = 0; i < count; i++)
    results.push(await send(ctx, "streaming", chatBody(ctx, { stream: true, index: i })));
  const stats = latencyStats(results);
  const checks: Check[] = [];
  if (thresholds.maxP95TtftMs !== undefined) {
    checks.push(atMost("p95 TTFT", stats.ttftMs.p95, thresholds.maxP95TtftMs, fmtMs));
  }
  checks.push(atMost("p95 E2E", stats.e2eMs.p95, thresholds.maxP95E2eMs, fmtMs));
  checks.push(atMost("error rate", stats.errorRate, thresholds.maxErrorRate, fmtPct));
  const noUsage = results.filter((r) => r.ok && r.sawUsage !== true).length;
  return phase("streaming", startedAt, ctx.clock.now(), {
    summary: `${count} streaming request(s) one at a time; TTFT at the first content/reasoning delta`,
    checks,
    notes: noUsage > 0 ? [`${noUsage} stream(s) sent no usage chunk: output tokens counted from chunks`] : [],
    stats,
  });
}

/** Resolves with the value, or undefined after `ms`. */
function within<T>(ctx: GateContext, promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, ctx.clock.sleepUntil(ctx.clock.now() + ms).then(() => undefined)]);
}

export async function cancelPhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  if (!ctx.target.extras) {
    return phase("cancel", startedAt, ctx.clock.now(), {
      summary: "skipped",
      checks: [],
      notes: ["needs gpt-oss-server's X-Request-Id header and POST /v1/cancel/{id}"],
      skipped: true,
    });
  }
  const maxTokens = 512;
  const abort = new AbortController();
  let requestId: string | undefined;
  let firstToken!: () => void;
  const gotFirstToken = new Promise<void>((resolve) => (firstToken = resolve));
  const body = { ...chatBody(ctx, { stream: true, index: 0, maxTokens }), ignore_eos: true };
  const streaming = ctx.client.chat(body, {
    timeoutMs: ctx.options.requestTimeoutMs,
    signal: abort.signal,
    onHead: (id) => (requestId = id),
    onFirstToken: () => firstToken(),
  });
  const checks: Check[] = [];
  const notes: string[] = [];
  const early = await Promise.race([gotFirstToken.then(() => undefined), streaming]);
  if (early !== undefined) {
    checks.push(holds("long stream started", false, early.error ?? "ended before its first token"));
    return phase("cancel", startedAt, ctx.clock.now(), { summary: "stream did not start", checks, notes });
  }
  checks.push(holds("X-Request-Id header", requestId !== undefined, requestId ?? "missing"));
  const cancelAt = ctx.clock.now();
  const cancel = await ctx.client
    .request("POST", `/v1/cancel/${encodeURIComponent(requestId ?? "missing")}`, undefined, 10_000)
    .catch((e: Error) => ({ status: 0, text: e.message }));
  const cancelled = cancel.status === 200 && cancel.text.includes('"cancelled"');
  checks.push(holds("POST /v1/cancel/{id} answers cancelled", cancelled, `HTTP ${cancel.status}`));
  const ended = await within(ctx, streaming, 5_000);
  if (ended === undefined) abort.abort();
  const result = ended ?? (await streaming);
  checks.push(
    atMost("stream ended after cancel", ended === undefined ? null : result.endAt - cancelAt, 5_000, fmtMs),
  );
  checks.push(
    holds(
      "stopped before max_tokens",
      result.outputTokens < maxTokens,
      `${result.outputTokens}/${maxTokens} tokens`,
    ),
  );
  const again = await ctx.client
    .request("POST", `/v1/cancel/${encodeURIComponent(requestId ?? "missing")}`, undefined, 10_000)
    .catch((e: Error) => ({ status: 0, text: e.message }));
  checks.push(holds("second cancel answers 404", again.status === 404, `HTTP ${again.status}`));
  const active = await waitIdle(ctx, 5_000);
  checks.push(holds("no active requests left", active === 0, active === null ? "n/a" : String(active)));
  const after = await send(ctx, "cancel", chatBody(ctx, { stream: true, index: 1 }));
  checks.push(holds("next request succeeds", after.ok, after.ok ? "yes" : (after.error ?? "no")));
  if (result.error !== undefined) notes.push(`the cancelled stream ended with: ${result.error}`);
  return phase("cancel", startedAt, ctx.clock.now(), {
    summary: `a ${maxTokens}-token stream cancelled after its first token`,
    checks,
    notes,
  });
}

export async function stabilityPhase(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const { thresholds, rate, durationMs, windowMs } = ctx.options;
  const run = await openLoopLoad(ctx, "stability", rate, durationMs, ctx.options.seed);
  const stats = latencyStats(run.results, { start: run.startedAt, end: run.startedAt + durationMs });
  const checks: Check[] = [atLeast("QPS sustained", stats.qps, thresholds.minQps, qpsText)];
  checks.push(atMost("error rate", stats.errorRate, thresholds.maxErrorRate, fmtPct));
  if (thresholds.maxP95TtftMs !== undefined) {
    checks.push(atMost("p95 TTFT", stats.ttftMs.p95, thresholds.maxP95TtftMs, fmtMs));
  }
  checks.push(atMost("p95 E2E", stats.e2eMs.p95, thresholds.maxP95E2eMs, fmtMs));
  const notes = [
    `offered ${run.offered} requests in ${fmtMs(durationMs)} (${(run.offered / (durationMs / 1000)).toFixed(2)} req/s realised)`,
  ];
  if (rate < thresholds.minQps)
    notes.push(`offered rate ${rate} req/s is below the QPS threshold: it cannot pass`);
  if (run.maxSendLagMs > 100) notes.push(`the client sent up to ${fmtMs(run.maxSendLagMs)} late`);
  return phase("stability", startedAt, ctx.clock.now(), {
    summary: `open-loop ${ctx.options.arrival} arrivals at ${rate} req/s for ${fmtMs(durationMs)}, streaming`,
    checks,
    notes,
    stats,
    windows: stabilityWindows(run.results, run.startedAt, durationMs, {
      windowMs,
      maxErrorRate: thresholds.maxErrorRate,
      maxP95E2eMs: thresholds.maxP95E2eMs,
    }),
  });
}

export function personalPhases(ctx: GateContext): Promise<PhaseReport[]> {
  return runPhases(ctx, [
    ["latency", latencyPhase],
    ["streaming", streamingPhase],
    ["cancel", cancelPhase],
    ["stability", stabilityPhase],
  ]);
}
