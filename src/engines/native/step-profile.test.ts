import { describe, expect, it } from "vitest";
import type { NativeCoreStats } from "./native-core.ts";
import { formatStepProfile, stepProfile } from "./step-profile.ts";

const zero: NativeCoreStats = {
  steps: 0,
  decodedTokens: 0,
  sampledTokens: 0,
  decodeMs: 0,
  sampleMs: 0,
  lastStepMs: 0,
  activeSequences: 0,
  nonFiniteLogits: 0,
  grammarMaskHits: 0,
  grammarFullChecks: 0,
  grammarForcedTokens: 0,
  failed: false,
};

describe("stepProfile", () => {
  it("turns counter deltas into per-step means and shares of wall time", () => {
    const before = { ...zero, steps: 10, decodedTokens: 100, sampledTokens: 80, decodeMs: 50, sampleMs: 5 };
    const after = {
      ...before,
      steps: 110,
      decodedTokens: 3300,
      sampledTokens: 3280,
      decodeMs: 850,
      sampleMs: 105,
    };
    const p = stepProfile(before, after, 1000);
    expect(p).toEqual({
      steps: 100,
      tokensPerSecond: 3200,
      meanSequences: 32,
      meanBatchTokens: 32,
      decodeMsPerStep: 8,
      sampleMsPerStep: 1,
      decodeShare: 0.8,
      sampleShare: 0.1,
      grammarMaskHits: 0,
      grammarFullChecks: 0,
      grammarForcedTokens: 0,
    });
    expect(formatStepProfile(p!)).toBe(
      "native core: 100 steps, 3200 tok/s, 32.0 sequences and 32.0 tokens a step; decode 8.00 ms (80% of the time), sampling 1.00 ms (10%)",
    );
  });

  it("says how grammar rejections were served, when there were any", () => {
    const before = { ...zero, steps: 1, grammarMaskHits: 5, grammarFullChecks: 2, grammarForcedTokens: 1 };
    const after = {
      ...before,
      steps: 11,
      sampledTokens: 10,
      grammarMaskHits: 12,
      grammarFullChecks: 3,
      grammarForcedTokens: 5,
    };
    const p = stepProfile(before, after, 1000)!;
    expect(p).toMatchObject({ grammarMaskHits: 7, grammarFullChecks: 1, grammarForcedTokens: 4 });
    expect(formatStepProfile(p)).toMatch(
      /; grammar rejections: 1 full vocabulary checks, 7 from the cache; 4 forced tokens$/,
    );
  });

  it("has nothing to say when no step ran", () => {
    expect(stepProfile(zero, zero, 1000)).toBeUndefined();
  });
});
