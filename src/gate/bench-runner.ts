/**
 * One bench level against one target: the request plan (prompts built before the clock starts),
 * then closed-loop concurrency or open-loop arrivals, all streaming with usage.
 */
import { arrivalOffsets, runClosedLoop, runOpenLoop, seededRandom } from "./arrival-schedule.ts";
import type { BenchLevel, BenchOptions, LengthSpec, LevelReport } from "./bench-types.ts";
import type { GateClock } from "./gate-clock.ts";
import type { PromptFactory } from "./prompt-factory.ts";
import type { RequestResult } from "./request-result.ts";
import { goodputQps, latencyStats } from "./stats-math.ts";
import type { TargetClient } from "./target-client.ts";

export interface BenchTarget {
  client: TargetClient;
  model: string;
}

export interface PlannedRequest {
  prompt: string;
  maxTokens: number;
}

export function requestsForLevel(level: BenchLevel, requests: number | undefined): number {
  if (requests !== undefined) return requests;
  return level.kind === "concurrency"
    ? Math.max(8, 4 * level.value)
    : Math.max(8, Math.ceil(10 * level.value));
}

function draw(spec: LengthSpec, random: () => number): number {
  return spec.min === spec.max ? spec.min : spec.min + Math.floor(random() * (spec.max - spec.min + 1));
}

/** The same seed gives the same prompts and lengths, so --compare sends both servers one plan. */
export function planLevel(
  options: BenchOptions,
  level: BenchLevel,
  levelIndex: number,
  prompts: PromptFactory,
): PlannedRequest[] {
  const random = seededRandom(options.seed * 1000 + levelIndex);
  const count = requestsForLevel(level, options.requests);
  return Array.from({ length: count }, () => {
    const promptTokens = draw(options.promptTokens, random);
    return { prompt: prompts.prompt(promptTokens, random), maxTokens: draw(options.maxTokens, random) };
  });
}

export function benchBody(
  target: BenchTarget,
  request: PlannedRequest,
  options: Pick<BenchOptions, "fixedOutput" | "temperature" | "topP">,
): Record<string, unknown> {
  return {
    model: target.model,
    messages: [{ role: "user", content: request.prompt }],
    max_tokens: request.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    ...(options.fixedOutput ? { ignore_eos: true } : {}),
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(options.topP !== undefined ? { top_p: options.topP } : {}),
  };
}

export async function runLevel(
  target: BenchTarget,
  level: BenchLevel,
  plan: readonly PlannedRequest[],
  options: BenchOptions,
  clock: GateClock,
  log: (line: string) => void,
): Promise<LevelReport> {
  const send = async (i: number): Promise<RequestResult> => {
    const r = await target.client.chat(benchBody(target, plan[i] as PlannedRequest, options), {
      timeoutMs: options.requestTimeoutMs,
    });
    if (options.verbose)
      log(`    ${r.ok ? "ok" : `FAILED ${r.error ?? ""}`} ${Math.round(r.endAt - r.sentAt)} ms`);
    return r;
  };
  const started = clock.now();
  let results: RequestResult[];
  if (level.kind === "concurrency") {
    results = await runClosedLoop(level.value, { count: plan.length }, send, clock);
  } else {
    // Enough schedule for the plan, then cut to it: the rate holds, the count is the plan's.
    const offsets = arrivalOffsets({
      rate: level.value,
      durationMs: ((plan.length * 3) / level.value) * 1000,
      process: options.arrival,
      seed: options.seed,
    }).slice(0, plan.length);
    results = (await runOpenLoop(offsets, send, clock)).results;
  }
  const stats = latencyStats(results);
  const slo = { ttftMs: options.sloTtftMs, tpotMs: options.sloTpotMs };
  const goodput = goodputQps(results, slo);
  const errors = [...new Set(results.filter((r) => !r.ok).map((r) => r.error ?? `HTTP ${r.status}`))].slice(
    0,
    5,
  );
  return {
    level,
    target: target.client.baseUrl,
    stats,
    goodputQps: goodput,
    sloAttainment: goodput === null || stats.qps === null || stats.qps === 0 ? null : goodput / stats.qps,
    durationS: Math.round((clock.now() - started) / 100) / 10,
    errors,
  };
}
