/** What every gate phase gets: the client, the target, the options, the clock and a progress line. */
import { arrivalOffsets, runClosedLoop, runOpenLoop } from "./arrival-schedule.ts";
import { fmtMs } from "./checks.ts";
import type { GateClock } from "./gate-clock.ts";
import type { GateOptions, PhaseReport } from "./gate-types.ts";
import type { RequestResult } from "./request-result.ts";
import type { TargetClient } from "./target-client.ts";
import type { TargetInfo } from "./target-probe.ts";

export interface GateContext {
  client: TargetClient;
  target: TargetInfo;
  options: GateOptions;
  clock: GateClock;
  /** A progress line for the person watching (stderr). */
  log: (line: string) => void;
}

/** Short, varied questions: the gate measures the server, not the answers. */
const PROMPTS = [
  "Write a Python hello world function.",
  "Explain what a hash map is in two sentences.",
  "List three uses of the number seven.",
  "Summarize the water cycle for a child.",
  "Suggest a name for a grey cat.",
];

export interface BodyOptions {
  stream: boolean;
  index: number;
  maxTokens?: number;
  profile?: string;
}

export function chatBody(ctx: GateContext, o: BodyOptions): Record<string, unknown> {
  const maxTokens = o.maxTokens ?? ctx.options.maxTokens;
  return {
    model: ctx.target.model,
    messages: [{ role: "user", content: PROMPTS[o.index % PROMPTS.length] }],
    max_tokens: maxTokens,
    stream: o.stream,
    ...(o.stream ? { stream_options: { include_usage: true } } : {}),
    // vLLM's extension, also accepted by llama-server and ours: every request produces exactly
    // max_tokens, so runs are comparable. OpenAI itself rejects it: --no-fixed-output.
    ...(ctx.options.fixedOutput ? { ignore_eos: true } : {}),
    ...(o.profile !== undefined && ctx.target.extras ? { profile: o.profile } : {}),
  };
}

export function describeResult(r: RequestResult): string {
  if (!r.ok) return `FAILED ${r.error ?? `HTTP ${r.status}`}`;
  const ttft = r.firstTokenAt === undefined ? "" : ` ttft ${fmtMs(r.firstTokenAt - r.sentAt)}`;
  return `ok${ttft} e2e ${fmtMs(r.endAt - r.sentAt)} ${r.outputTokens} tokens`;
}

/** Sends one chat request, logging it with --verbose. */
export async function send(
  ctx: GateContext,
  label: string,
  body: Record<string, unknown>,
): Promise<RequestResult> {
  const r = await ctx.client.chat(body, { timeoutMs: ctx.options.requestTimeoutMs });
  if (ctx.options.verbose || !r.ok) ctx.log(`  [${label}] ${describeResult(r)}`);
  return r;
}

/** Open-loop streaming load at `rate` for `durationMs`. */
export async function openLoopLoad(
  ctx: GateContext,
  label: string,
  rate: number,
  durationMs: number,
  seed: number,
): Promise<{ results: RequestResult[]; startedAt: number; offered: number; maxSendLagMs: number }> {
  const offsets = arrivalOffsets({ rate, durationMs, process: ctx.options.arrival, seed });
  ctx.log(
    `  [${label}] ${offsets.length} requests over ${fmtMs(durationMs)} (${ctx.options.arrival}, ${rate} req/s offered)`,
  );
  let done = 0;
  const run = await runOpenLoop(
    offsets,
    async (i) => {
      const r = await send(ctx, label, chatBody(ctx, { stream: true, index: i }));
      done++;
      if (!ctx.options.verbose && done % Math.max(1, Math.ceil(offsets.length / 4)) === 0) {
        ctx.log(`  [${label}] ${done}/${offsets.length} done`);
      }
      return r;
    },
    ctx.clock,
  );
  return { ...run, offered: offsets.length };
}

/** Closed-loop streaming load: `concurrency` users for `durationMs`. */
export function closedLoopLoad(
  ctx: GateContext,
  label: string,
  concurrency: number,
  durationMs: number,
): Promise<RequestResult[]> {
  return runClosedLoop(
    concurrency,
    { untilMs: ctx.clock.now() + durationMs },
    (i) => send(ctx, label, chatBody(ctx, { stream: true, index: i })),
    ctx.clock,
  );
}

/** A phase of a gate mode: its name, and the function that runs it. */
export type GatePhase = [name: string, run: (ctx: GateContext) => Promise<PhaseReport>];

/** Runs a mode's phases in order, logging progress, and returns their reports. */
export async function runPhases(ctx: GateContext, phases: readonly GatePhase[]): Promise<PhaseReport[]> {
  const reports: PhaseReport[] = [];
  for (const [name, run] of phases) {
    ctx.log(`[${name}] running`);
    const report = await run(ctx);
    ctx.log(`[${report.name}] ${report.status.toUpperCase()} (${report.durationS} s)`);
    reports.push(report);
  }
  return reports;
}
