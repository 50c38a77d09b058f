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
  /** Rejected draws under a grammar: allowed sets from the core's cache, and full vocabulary checks. */
  grammarMaskHits: number;
  grammarFullChecks: number;
  /** Tokens a grammar forced, taken without a draw (jump-forward). */
  grammarForcedTokens: number;
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
  return {
    steps,
    tokensPerSecond: (sampled * 1000) / wallMs,
    meanSequences: sampled / steps,
    meanBatchTokens: (after.decodedTokens - before.decodedTokens) / steps,
    decodeMsPerStep: decodeMs / steps,
    sampleMsPerStep: sampleMs / steps,
    decodeShare: decodeMs / wallMs,
    sampleShare: sampleMs / wallMs,
    grammarMaskHits: after.grammarMaskHits - before.grammarMaskHits,
    grammarFullChecks: after.grammarFullChecks - before.grammarFullChecks,
    grammarForcedTokens: after.grammarForcedTokens - before.grammarForcedTokens,
  };
}

export function formatStepProfile(p: StepProfile): string {
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  return (
    `native core: ${p.steps} steps, ${p.tokensPerSecond.toFixed(0)} tok/s, ${p.meanSequences.toFixed(1)} ` +
    `sequences and ${p.meanBatchTokens.toFixed(1)} tokens a step; decode ${p.decodeMsPerStep.toFixed(2)} ms ` +
    `(${pct(p.decodeShare)} of the time), sampling ${p.sampleMsPerStep.toFixed(2)} ms (${pct(p.sampleShare)})` +
    (p.grammarMaskHits + p.grammarFullChecks > 0
      ? `; grammar rejections: ${p.grammarFullChecks} full vocabulary checks, ${p.grammarMaskHits} from the cache`
      : "") +
    (p.grammarForcedTokens > 0 ? `; ${p.grammarForcedTokens} forced tokens` : "")
  );
}
