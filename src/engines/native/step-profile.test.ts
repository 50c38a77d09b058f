import { describe, expect, it } from "vitest";
import { zeroStats } from "./fake-native-core.ts";
import type { NativeCoreStats } from "./native-core.ts";
import { formatStepProfile, stepProfile } from "./step-profile.ts";

const zero = zeroStats();

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
      waitMs: 40,
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
      waitMsPerStep: 0.4,
      waitShare: 0.04,
      grammarMaskHits: 0,
      grammarFullChecks: 0,
      grammarForcedTokens: 0,
      blockStatDraws: 0,
      blockStatMisses: 0,
      streamMoves: 0,
    });
    expect(formatStepProfile(p!)).toBe(
      "native core: 100 steps, 3200 tok/s, 32.0 sequences and 32.0 tokens a step; decode 8.00 ms (80% of the time), " +
        "waiting for the logits 0.40 ms (4%), sampling 1.00 ms (10%)",
    );
  });

  it("gives the steps without prompt tokens apart: their time and its parts", () => {
    const before = { ...zero, steps: 5, pureDecodeSteps: 2, pureDecodeSequences: 100, pureDecodeMs: 100 };
    const after = {
      ...before,
      steps: 25,
      sampledTokens: 5000,
      pureDecodeSteps: 12,
      pureDecodeSequences: 2660,
      pureDecodeMs: 815,
      pureDecodeLaunchMs: 30,
      pureDecodeWaitMs: 450,
      pureDecodeSampleMs: 110,
      pureDecodeReusedGraphs: 7,
      pureDecodeSplitSteps: 6,
      streamMoves: 5,
    };
    const p = stepProfile({ ...before, pureDecodeReusedGraphs: 3, pureDecodeSplitSteps: 4 }, after, 1000)!;
    expect(p.pureDecode).toEqual({
      steps: 10,
      meanSequences: 256,
      msPerStep: 71.5,
      launchMsPerStep: 3,
      waitMsPerStep: 45,
      sampleMsPerStep: 11,
      otherMsPerStep: 12.5,
      reusedGraphs: 4,
      splitSteps: 2,
    });
    expect(p.streamMoves).toBe(5);
    expect(formatStepProfile(p)).toContain(
      "; 10 steps without prompt tokens, 256.0 sequences and 71.50 ms each: llama_decode 3.00, waiting 45.00, " +
        "sampling 11.00, the rest 12.50; llama.cpp reused its graph in 4 of them, split 2 into several micro-batches",
    );
    expect(formatStepProfile(p)).toContain("; 5 sequences moved to close gaps between streams");
    // A core from before these counters (a benchmark's server A): no NaN, the parts are left out.
    const old = { ...zero, steps: 10 } as Partial<NativeCoreStats>;
    delete old.waitMs;
    delete old.pureDecodeSteps;
    const oldProfile = stepProfile(old as NativeCoreStats, { ...old, steps: 20 } as NativeCoreStats, 1000)!;
    expect(oldProfile.waitMsPerStep).toBeUndefined();
    expect(oldProfile.pureDecode).toBeUndefined();
    expect(formatStepProfile(oldProfile)).not.toMatch(/NaN|waiting/);
    // A core that counts the steps without prompt tokens but not their llama_decode part (nor reuse).
    const mid = { ...zero, steps: 1 } as Partial<NativeCoreStats>;
    delete mid.pureDecodeLaunchMs;
    delete mid.pureDecodeReusedGraphs;
    delete mid.pureDecodeSplitSteps;
    delete mid.streamMoves;
    const midAfter = {
      ...mid,
      steps: 3,
      pureDecodeSteps: 2,
      pureDecodeSequences: 2,
      pureDecodeMs: 10,
      pureDecodeSampleMs: 2,
    };
    const midProfile = stepProfile(mid as NativeCoreStats, midAfter as NativeCoreStats, 1000)!;
    expect(midProfile.pureDecode).toEqual({
      steps: 2,
      meanSequences: 1,
      msPerStep: 5,
      waitMsPerStep: 0,
      sampleMsPerStep: 1,
      otherMsPerStep: 4,
    });
    expect(formatStepProfile(midProfile)).toContain(
      "each: waiting 0.00, sampling 1.00, the rest 4.00 (llama_decode included)",
    );
    expect(formatStepProfile(midProfile)).not.toContain("NaN");
    expect(formatStepProfile(midProfile)).not.toMatch(/reused|split|moved/);
    // Draws from the block statistics are counted when there were any.
    const stats = stepProfile(zero, { ...zero, steps: 4, blockStatDraws: 900, blockStatMisses: 1 }, 1000)!;
    expect(formatStepProfile(stats)).toContain("; 900 draws from block statistics (1 steps without)");
    expect(formatStepProfile(midProfile)).not.toContain("block statistics");
    // None in the interval: no such part.
    const prompts = stepProfile(after, { ...after, steps: 30 }, 1000)!;
    expect(prompts.pureDecode).toBeUndefined();
    expect(formatStepProfile(prompts)).not.toContain("without prompt tokens");
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
