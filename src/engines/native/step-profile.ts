/**
 * Where the decode loop's time goes, between two readings of the core's counters: the profile the
 * GPU benchmark reads from the server log (bench/gpu/run.sh), and a health signal for operators.
 */
import type { NativeCoreStats } from "./native-core.ts";

export interface StepProfile {
  steps: number;
  /** Sampled tokens per second over the interval. */
  tokensPerSecond: number;
  /** Mean sequences sampled per step (the batch the GPU saw, prompts aside). */
  meanSequences: number;
  /** Mean tokens fed per step (prompt chunks included). */
  meanBatchTokens: number;
  /** Mean llama_decode and sampling time per step, and the share of wall time in each. */
  decodeMsPerStep: number;
  sampleMsPerStep: number;
  decodeShare: number;
  sampleShare: number;
  /**
   * Mean wait for the logits per step (the GPU finishing and the copy to the host), and its share.
   * Undefined with a core too old to count it (a GPU benchmark's server A may run another revision's).
   */
  waitMsPerStep?: number;
  waitShare?: number;
  /**
   * The steps that fed no prompt token, apart: how many, the mean sequences each sampled, the mean
   * wall time of one, and its parts (llama_decode: on a GPU it queues the step, on a CPU it runs it;
   * waiting for the logits: the GPU's step and the copy; sampling; and everything else the core does:
   * building the batch, accepting tokens, handing events to JavaScript).
   * Undefined when there were none.
   */
  pureDecode?: {
    steps: number;
    meanSequences: number;
    msPerStep: number;
    /** Undefined with a core too old to count it ("the rest" then includes it). */
    launchMsPerStep?: number;
    waitMsPerStep: number;
    sampleMsPerStep: number;
    otherMsPerStep: number;
    /**
     * How many of them ran on the compute graph llama.cpp kept from the step before (the others
     * rebuilt and reallocated it). Undefined with a core too old to count it.
     */
    reusedGraphs?: number;
    /** How many of them llama.cpp split into several micro-batches (streams not consecutive). */
    splitSteps?: number;
  };
  /** Sequences the core moved to another stream to keep a step one micro-batch (0 with an older core). */
  streamMoves: number;
  /** Rejected draws under a grammar: allowed sets from the core's cache, and full vocabulary checks. */
  grammarMaskHits: number;
  grammarFullChecks: number;
  /** Tokens a grammar forced, taken without a draw (jump-forward). */
  grammarForcedTokens: number;
  /** Draws from the GPU's block statistics, and steps that could not use them (0 with an older core). */
  blockStatDraws: number;
  blockStatMisses: number;
}

/** undefined when no step ran in between. */
export function stepProfile(
  before: NativeCoreStats,
  after: NativeCoreStats,
  wallMs: number,
): StepProfile | undefined {
  const steps = after.steps - before.steps;
  if (steps <= 0 || wallMs <= 0) return undefined;
  const sampled = after.sampledTokens - before.sampledTokens;
  const decodeMs = after.decodeMs - before.decodeMs;
  const sampleMs = after.sampleMs - before.sampleMs;
  // An older core has no such counter (undefined - undefined = NaN): its part is left out.
  const waitMs = after.waitMs - before.waitMs;
  const pureSteps = after.pureDecodeSteps - before.pureDecodeSteps;
  const pureMs = after.pureDecodeMs - before.pureDecodeMs;
  // Counted since the steps without prompt tokens were: NaN from a core in between (left out).
  const pureLaunchMs = after.pureDecodeLaunchMs - before.pureDecodeLaunchMs;
  const launchKnown = Number.isFinite(pureLaunchMs);
  const pureWaitMs = after.pureDecodeWaitMs - before.pureDecodeWaitMs;
  const pureSampleMs = after.pureDecodeSampleMs - before.pureDecodeSampleMs;
  const reusedGraphs = (after.pureDecodeReusedGraphs ?? NaN) - (before.pureDecodeReusedGraphs ?? NaN);
  const splitSteps = (after.pureDecodeSplitSteps ?? NaN) - (before.pureDecodeSplitSteps ?? NaN);
  return {
    steps,
    tokensPerSecond: (sampled * 1000) / wallMs,
    meanSequences: sampled / steps,
    meanBatchTokens: (after.decodedTokens - before.decodedTokens) / steps,
    decodeMsPerStep: decodeMs / steps,
    sampleMsPerStep: sampleMs / steps,
    decodeShare: decodeMs / wallMs,
    sampleShare: sampleMs / wallMs,
    ...(Number.isFinite(waitMs) ? { waitMsPerStep: waitMs / steps, waitShare: waitMs / wallMs } : {}),
    ...(pureSteps > 0
      ? {
          pureDecode: {
            steps: pureSteps,
            meanSequences: (after.pureDecodeSequences - before.pureDecodeSequences) / pureSteps,
            msPerStep: pureMs / pureSteps,
            ...(launchKnown ? { launchMsPerStep: pureLaunchMs / pureSteps } : {}),
            waitMsPerStep: pureWaitMs / pureSteps,
            sampleMsPerStep: pureSampleMs / pureSteps,
            otherMsPerStep:
              (pureMs - (launchKnown ? pureLaunchMs : 0) - pureWaitMs - pureSampleMs) / pureSteps,
            ...(Number.isFinite(reusedGraphs) ? { reusedGraphs } : {}),
            ...(Number.isFinite(splitSteps) ? { splitSteps } : {}),
          },
        }
      : {}),
    grammarMaskHits: after.grammarMaskHits - before.grammarMaskHits,
    grammarFullChecks: after.grammarFullChecks - before.grammarFullChecks,
    grammarForcedTokens: after.grammarForcedTokens - before.grammarForcedTokens,
    blockStatDraws: (after.blockStatDraws ?? 0) - (before.blockStatDraws ?? 0),
    blockStatMisses: (after.blockStatMisses ?? 0) - (before.blockStatMisses ?? 0),
    streamMoves: (after.streamMoves ?? 0) - (before.streamMoves ?? 0),
  };
}

export function formatStepProfile(p: StepProfile): string {
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  return (
    `native core: ${p.steps} steps, ${p.tokensPerSecond.toFixed(0)} tok/s, ${p.meanSequences.toFixed(1)} ` +
    `sequences and ${p.meanBatchTokens.toFixed(1)} tokens a step; decode ${p.decodeMsPerStep.toFixed(2)} ms ` +
    `(${pct(p.decodeShare)} of the time), ` +
    (p.waitMsPerStep !== undefined && p.waitShare !== undefined
      ? `waiting for the logits ${p.waitMsPerStep.toFixed(2)} ms (${pct(p.waitShare)}), `
      : "") +
    `sampling ${p.sampleMsPerStep.toFixed(2)} ms (${pct(p.sampleShare)})` +
    (p.pureDecode !== undefined
      ? `; ${p.pureDecode.steps} steps without prompt tokens, ${p.pureDecode.meanSequences.toFixed(1)} ` +
        `sequences and ${p.pureDecode.msPerStep.toFixed(2)} ms each: ` +
        (p.pureDecode.launchMsPerStep !== undefined
          ? `llama_decode ${p.pureDecode.launchMsPerStep.toFixed(2)}, `
          : "") +
        `waiting ${p.pureDecode.waitMsPerStep.toFixed(2)}, sampling ${p.pureDecode.sampleMsPerStep.toFixed(2)}, ` +
        `the rest ${p.pureDecode.otherMsPerStep.toFixed(2)}` +
        (p.pureDecode.launchMsPerStep === undefined ? " (llama_decode included)" : "") +
        (p.pureDecode.reusedGraphs !== undefined
          ? `; llama.cpp reused its graph in ${p.pureDecode.reusedGraphs} of them`
          : "") +
        (p.pureDecode.splitSteps !== undefined
          ? `, split ${p.pureDecode.splitSteps} into several micro-batches`
          : "")
      : "") +
    (p.grammarMaskHits + p.grammarFullChecks > 0
      ? `; grammar rejections: ${p.grammarFullChecks} full vocabulary checks, ${p.grammarMaskHits} from the cache`
      : "") +
    (p.grammarForcedTokens > 0 ? `; ${p.grammarForcedTokens} forced tokens` : "") +
    (p.blockStatDraws + p.blockStatMisses > 0
      ? `; ${p.blockStatDraws} draws from block statistics (${p.blockStatMisses} steps without)`
      : "") +
    (p.streamMoves > 0 ? `; ${p.streamMoves} sequences moved to close gaps between streams` : "")
  );
}
