/**
 * Warming an engine's prefix cache (`--warm-prompt`): each prefix runs as a one-token greedy
 * generation, so the engine evaluates it and keeps its KV cells in the sequence (slot) it ran on;
 * the next request that starts with it reuses them (`cached_tokens`) instead of computing them.
 * There is no prefill-only path in the engine interface; one generated token is the least a
 * generation costs, and it is discarded.
 *
 * The prefixes run all at once: each takes its own free slot, so that one does not overwrite
 * another's cells (a replica holds as many as it has sequences). Serving renders the prefixes
 * (serving/warm-prompts.ts); engines see only tokens. WorkerEngine warms every worker it starts or
 * restarts before it takes requests; an inline engine is warmed once at start
 * (cli/start-engine.ts); the replica router remembers the prefixes on every replica
 * (replicated-engine.ts).
 */
import type { Logger } from "pino";
import type { Engine, GenerationRequest, GenerationUsage } from "./engine.ts";

/** What one warm-up did: prefixes run, their tokens, how many were already cached, how long. */
export interface WarmUpReport {
  prompts: number;
  tokens: number;
  /** Tokens the engine found cached already (a second warm-up of a live engine finds them all). */
  cachedTokens: number;
  failed: number;
  ms: number;
}

/** Runs one request to its end and gives its finish's usage (undefined when there was none). */
export type WarmRun = (request: GenerationRequest) => Promise<GenerationUsage | undefined>;

/** The warm-up request of one prefix: greedy, one token, no stop token to end it sooner. */
export function warmUpRequest(tokens: readonly number[], index: number): GenerationRequest {
  return {
    id: `warm-up-${index}`,
    promptTokens: tokens,
    sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
    stopTokens: [],
    maxTokens: 1,
  };
}

/**
 * Runs every prefix through `run`, all at once, and logs what it did. A prefix that fails is
 * logged and counted, never thrown: warming only saves time.
 */
export async function warmUp(
  prompts: readonly (readonly number[])[],
  run: WarmRun,
  logger: Logger,
  what: string,
): Promise<WarmUpReport> {
  const started = performance.now();
  const report: WarmUpReport = { prompts: prompts.length, tokens: 0, cachedTokens: 0, failed: 0, ms: 0 };
  await Promise.all(
    prompts.map(async (tokens, index) => {
      try {
        const usage = await run(warmUpRequest(tokens, index));
        report.tokens += tokens.length;
        report.cachedTokens += usage?.cachedTokens ?? 0;
      } catch (error) {
        report.failed += 1;
        logger.warn(
          { err: error instanceof Error ? error.message : String(error), prompt_tokens: tokens.length },
          `${what}: a warm prompt failed`,
        );
      }
    }),
  );
  report.ms = Math.round(performance.now() - started);
  logger.info(
    {
      warm_prompts: report.prompts,
      tokens: report.tokens,
      cached_tokens: report.cachedTokens,
      failed: report.failed,
      ms: report.ms,
    },
    `${what}: prefix cache warmed`,
  );
  return report;
}

/** WarmRun over an engine's own generate (an inline engine, a test's). */
export function runOn(engine: Engine): WarmRun {
  return async (request) => {
    let usage: GenerationUsage | undefined;
    for await (const event of engine.generate(request, new AbortController().signal)) {
      if (event.type === "finish") usage = event.usage;
    }
    return usage;
  };
}
