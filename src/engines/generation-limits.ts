/**
 * Checks every engine applies to a request before it takes a slot, and the completion budget that
 * follows from the context size. Serving validates wire fields first; these checks keep an engine
 * safe when called directly (tests, benches) and state the context arithmetic in one place.
 */
import type { EngineHealth, EngineInfo, GenerationRequest, GenerationUsage } from "./engine.ts";
import { linkSignals } from "./linked-signal.ts";
import type { SequencePool } from "./sequence-pool.ts";
import { ServerError } from "../errors/server-error.ts";

/**
 * Returns how many tokens the request may generate: its maxTokens, capped so prompt plus output fit
 * in one sequence's context (OpenAI's rule: prompt + max_tokens <= context). That is exact: the
 * last generated token is never fed back, so prompt + n tokens use prompt + n - 1 cells. An engine
 * that must keep cells spare (node-llama-cpp shifts a full context) reports a smaller contextSize.
 */
export function completionBudget(req: GenerationRequest, contextSize: number): number {
  if (req.promptTokens.length === 0) {
    throw new ServerError("invalid_value", "The prompt has no tokens.");
  }
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) {
    throw new ServerError("invalid_value", `maxTokens must be a positive integer, got ${req.maxTokens}.`, {
      param: "max_tokens",
    });
  }
  const room = contextSize - req.promptTokens.length;
  if (room < 1) {
    throw new ServerError(
      "context_length_exceeded",
      `The prompt has ${req.promptTokens.length} tokens; this model's context holds ${contextSize} per sequence.`,
      { param: "messages" },
    );
  }
  return Math.min(req.maxTokens, room);
}

/** The most alternatives a token's logprobs may list (OpenAI's top_logprobs cap). */
export const MAX_TOP_LOGPROBS = 20;

/**
 * Throws unless the engine can report the logprobs the request asks for (GenerationRequest.logprobs):
 * serving checks the capability first, so this guards direct callers.
 */
export function assertLogprobsSupported(req: GenerationRequest, canReport: boolean | undefined): void {
  const topN = req.logprobs;
  if (topN === undefined) return;
  if (canReport !== true) throw new ServerError("engine_error", "This engine cannot report logprobs.");
  if (!Number.isInteger(topN) || topN < 0 || topN > MAX_TOP_LOGPROBS) {
    throw new ServerError(
      "invalid_value",
      `logprobs must be an integer in 0..${MAX_TOP_LOGPROBS}, got ${topN}.`,
      {
        param: "top_logprobs",
      },
    );
  }
}

/** The reason an abort-aware wait rejects with: distinguishes a cancel from a real failure. */
export function isAbortReason(error: unknown, signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  if (error === signal.reason) return true;
  return error instanceof Error && (error.name === "AbortError" || error.cause === signal.reason);
}

/** What a slot engine's generate() starts with (beginSlotGeneration). */
export interface SlotGeneration<S> {
  /** Fires on the request's abort or the engine's close. */
  stop: AbortSignal;
  /** Tokens the request may generate (completionBudget). */
  budget: number;
  /** The finish's usage so far: the prompt, and the cached prefix once a slot is leased. */
  usage: GenerationUsage;
  /** The slot and the prompt tokens it may reuse; absent: the request was aborted while waiting. */
  lease?: { slot: S; reuse: number };
  /** Unlinks `stop`; call it however the generation ends. */
  dispose(): void;
}

/**
 * The prologue every slot engine (native, node-llama-cpp, fake) runs before generating: refuse when
 * closed, check logprobs, compute the budget, wait for a slot (abortable). Throws a ServerError for
 * a request it cannot serve, with nothing left linked.
 */
export async function beginSlotGeneration<S>(
  req: GenerationRequest,
  signal: AbortSignal,
  engine: { info: EngineInfo; closing: AbortSignal; pool: SequencePool<S> },
): Promise<SlotGeneration<S>> {
  const link = linkSignals(signal, engine.closing);
  try {
    if (engine.closing.aborted) throw new ServerError("shutting_down", "The engine is closed.");
    assertLogprobsSupported(req, engine.info.capabilities.logprobs);
    const budget = completionBudget(req, engine.info.contextSize);
    const usage: GenerationUsage = {
      promptTokens: req.promptTokens.length,
      cachedTokens: 0,
      completionTokens: 0,
    };
    const lease = await engine.pool.lease(req.promptTokens, req.priority ?? 0, link.signal);
    if (lease !== undefined) usage.cachedTokens = lease.reuse;
    return {
      stop: link.signal,
      budget,
      usage,
      ...(lease !== undefined ? { lease } : {}),
      dispose: () => link.dispose(),
    };
  } catch (error) {
    link.dispose();
    throw error;
  }
}

/**
 * A slot engine's health: "failed" (detail "closed") once closed, else "ready" with its busy slots
 * and last step time; the native engine adds its core's own failures before this.
 */
export function slotEngineHealth(
  closed: boolean,
  activeSequences: number,
  lastStepMs?: number,
): EngineHealth {
  if (closed) return { status: "failed", activeSequences, detail: "closed" };
  return { status: "ready", activeSequences, ...(lastStepMs !== undefined ? { lastStepMs } : {}) };
}
