/**
 * Helpers for ending a node-llama-cpp evaluation early: racing a step against an abort, and closing
 * the evaluation generator so its sequence can be reused.
 */
import type { LlamaContextSequence } from "node-llama-cpp";

export const ABORTED: unique symbol = Symbol("aborted");

export interface AbortOutcome {
  /** Resolves with ABORTED when the signal aborts; never rejects. */
  promise: Promise<typeof ABORTED>;
  dispose(): void;
}

export function abortOutcome(signal: AbortSignal): AbortOutcome {
  let onAbort: (() => void) | undefined;
  const promise = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) {
      resolve(ABORTED);
      return;
    }
    onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return {
    promise,
    dispose: () => {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Ends an evaluation: `return()` on node-llama-cpp's generator runs its cleanup (frees the native
 * sampler). On an async generator, `return()` queues behind a step still in flight, so this resolves
 * once the sequence is idle. Never rejects: the outcome of a step nobody waits for is moot.
 */
export async function closeEvaluation(
  evaluation: AsyncGenerator<unknown, unknown, never> | undefined,
  pendingStep: Promise<unknown> | undefined,
  sequenceToClear: LlamaContextSequence | undefined,
): Promise<void> {
  pendingStep?.catch(() => {});
  try {
    await evaluation?.return(undefined);
  } catch {
    // The evaluation already failed; that failure was reported where it happened.
  }
  if (sequenceToClear !== undefined && !sequenceToClear.disposed) {
    try {
      await sequenceToClear.clearHistory();
    } catch {
      // Disposed while closing: nothing left to clear.
    }
  }
}
