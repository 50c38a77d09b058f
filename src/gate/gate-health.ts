/** The health phase both modes start with, and the "is the server fine again?" probe phases end with. */
import { fmtMs, holds, phase } from "./checks.ts";
import { chatBody, type GateContext } from "./gate-context.ts";
import type { Check, PhaseReport } from "./gate-types.ts";

/**
 * Is the server there and ready? Also sends one small unmeasured request: it proves chat works at
 * all, and it takes the first-request costs (graph setup, caches) out of the latency numbers.
 */
export async function healthPhase(ctx: GateContext, startedAt: number): Promise<PhaseReport> {
  const t = ctx.target;
  const checks: Check[] = [holds("server answers HTTP", true)];
  checks.push(holds("model to test", t.model !== "", t.model === "" ? "none" : t.model));
  if (t.extras) {
    const ok = t.healthStatus === "healthy" || t.healthStatus === "degraded";
    checks.push(holds("/health status", ok && t.problem === undefined, t.healthStatus ?? "n/a"));
  }
  const notes = [...t.notes];
  if (t.problem !== undefined) notes.push(t.problem);
  if (checks.every((c) => c.passed)) {
    const warm = await ctx.client.chat(chatBody(ctx, { stream: true, index: 0, maxTokens: 4 }), {
      timeoutMs: ctx.options.requestTimeoutMs,
    });
    checks.push(
      holds(
        "warm-up chat request",
        warm.ok,
        warm.ok ? fmtMs(warm.endAt - warm.sentAt) : (warm.error ?? "failed"),
      ),
    );
  }
  return phase("health", startedAt, ctx.clock.now(), {
    summary: t.extras
      ? "GET /health (gpt-oss-server extras found), GET /v1/models, one unmeasured warm-up request"
      : "GET /v1/models (no gpt-oss-server extras), one unmeasured warm-up request",
    checks,
    notes,
  });
}

interface HealthCounts {
  active_requests?: unknown;
  status?: unknown;
}

/**
 * Polls until the server reports no active requests (our /health) — i.e. what we cancelled or
 * overloaded really let go — or the deadline passes. Returns the last count seen.
 */
export async function waitIdle(ctx: GateContext, timeoutMs: number): Promise<number | null> {
  const deadline = ctx.clock.now() + timeoutMs;
  for (;;) {
    const health = await ctx.client.getJson("/health", 5_000).catch(() => undefined);
    const body = health?.body as HealthCounts | undefined;
    const active = typeof body?.active_requests === "number" ? body.active_requests : null;
    if (active === 0 || ctx.clock.now() >= deadline) return active;
    await ctx.clock.sleepUntil(ctx.clock.now() + 100);
  }
}
