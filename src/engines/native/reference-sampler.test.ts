import { describe, expect, it } from "vitest";
import type { NativeSampling } from "./native-core.ts";
import { adjustLogits, referenceProbabilities } from "./reference-sampler.ts";

/** Plain sampling (temperature 1, no nucleus, no penalties, no bias), with overrides. */
function sampling(overrides: Partial<NativeSampling> = {}): NativeSampling {
  return {
    temperature: 1,
    topP: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    biasTokens: new Int32Array(),
    biasValues: new Float32Array(),
    ...overrides,
  };
}

function bias(entries: Record<number, number>): Pick<NativeSampling, "biasTokens" | "biasValues"> {
  const tokens = Object.keys(entries).map(Number);
  return {
    biasTokens: Int32Array.from(tokens),
    biasValues: Float32Array.from(tokens.map((t) => entries[t]!)),
  };
}

const none = new Int32Array();

function expectProbabilities(actual: Float64Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((p, i) => expect(actual[i], `token ${i}`).toBeCloseTo(p, 12));
}

describe("referenceProbabilities: temperature", () => {
  it("is the softmax of the logits at temperature 1", () => {
    const p = referenceProbabilities([0, Math.LN2, Math.log(3)], sampling(), none);
    expectProbabilities(p, [1 / 6, 2 / 6, 3 / 6]);
  });

  it("divides the logits by the temperature", () => {
    // exp(x / 2) of [0, ln 4, ln 9] is [1, 2, 3].
    const hot = referenceProbabilities([0, Math.log(4), Math.log(9)], sampling({ temperature: 2 }), none);
    expectProbabilities(hot, [1 / 6, 2 / 6, 3 / 6]);
    // exp(2x) of [0, ln 2, ln 3] is [1, 4, 9].
    const cold = referenceProbabilities([0, Math.LN2, Math.log(3)], sampling({ temperature: 0.5 }), none);
    expectProbabilities(cold, [1 / 14, 4 / 14, 9 / 14]);
  });

  it("does not overflow on large logits (only differences matter)", () => {
    const p = referenceProbabilities([1000, 1000 + Math.LN2, 1000 + Math.log(3)], sampling(), none);
    expectProbabilities(p, [1 / 6, 2 / 6, 3 / 6]);
  });

  it("is greedy at temperature 0: all the mass on the highest logit", () => {
    expectProbabilities(
      referenceProbabilities([1, 4, 2, 3], sampling({ temperature: 0 }), none),
      [0, 1, 0, 0],
    );
  });

  it("breaks greedy ties with the lowest id, and ignores top_p", () => {
    const p = referenceProbabilities([1, 5, 2, 5], sampling({ temperature: 0, topP: 0.1 }), none);
    expectProbabilities(p, [0, 1, 0, 0]);
  });
});

describe("referenceProbabilities: top_p", () => {
  // Four equal logits: each token has exactly 1/4, so the cumulative sums 1/4, 1/2, 3/4 are exact.
  const flat = [7, 7, 7, 7];

  it("keeps the smallest prefix whose mass reaches top_p, inclusive at the boundary", () => {
    expectProbabilities(referenceProbabilities(flat, sampling({ topP: 0.5 }), none), [0.5, 0.5, 0, 0]);
    expectProbabilities(referenceProbabilities(flat, sampling({ topP: 0.25 }), none), [1, 0, 0, 0]);
  });

  it("takes one more token as soon as top_p passes a cumulative sum", () => {
    const p = referenceProbabilities(flat, sampling({ topP: 0.5 + 1e-9 }), none);
    expectProbabilities(p, [1 / 3, 1 / 3, 1 / 3, 0]);
  });

  it("keeps at least one token however small top_p is", () => {
    expectProbabilities(referenceProbabilities(flat, sampling({ topP: 1e-12 }), none), [1, 0, 0, 0]);
  });

  it("keeps every token at top_p 1", () => {
    expectProbabilities(referenceProbabilities(flat, sampling({ topP: 1 }), none), [0.25, 0.25, 0.25, 0.25]);
  });

  it("orders by logit, lower id first among equals", () => {
    // [3, 1, 3, 2, 3]: order is 0, 2, 4 (the tied top, by id), then 3, then 1.
    const logits = [3, 1, 3, 2, 3];
    const p = referenceProbabilities(logits, sampling({ topP: 0.5 }), none);
    const e = Math.E;
    const total = 3 * e * e + e + 1;
    // Token 0 alone has e²/total ≈ 0.29 < 0.5; with token 2 the mass is ≈ 0.57.
    expect((e * e) / total).toBeLessThan(0.5);
    expectProbabilities(p, [0.5, 0, 0.5, 0, 0]);
  });

  it("applies after the temperature", () => {
    const logits = [0, Math.LN2, Math.log(3)];
    // At temperature 1 token 2 has 1/2 < 0.6, so token 1 joins it: 3/5, 2/5.
    expectProbabilities(referenceProbabilities(logits, sampling({ topP: 0.6 }), none), [0, 2 / 5, 3 / 5]);
    // At temperature 0.5 token 2 has 9/14 >= 0.6 on its own.
    const cold = referenceProbabilities(logits, sampling({ topP: 0.6, temperature: 0.5 }), none);
    expectProbabilities(cold, [0, 0, 1]);
  });
});

describe("referenceProbabilities: logit_bias", () => {
  it("adds the bias to the logit", () => {
    const p = referenceProbabilities([0, 0, 0], sampling(bias({ 2: 1 })), none);
    const e = Math.E;
    expectProbabilities(p, [1 / (2 + e), 1 / (2 + e), e / (2 + e)]);
  });

  it("bans a token with a bias of -100 or less, and only then", () => {
    const banned = referenceProbabilities([0, 0, 0], sampling(bias({ 0: -100, 1: -150 })), none);
    expectProbabilities(banned, [0, 0, 1]);
    // -99 is a (huge) penalty, not a ban: the token keeps a tiny but nonzero probability.
    const penalised = referenceProbabilities([0, 0], sampling(bias({ 0: -99 })), none);
    expect(penalised[0]).toBeGreaterThan(0);
    expect(penalised[0]).toBeCloseTo(Math.exp(-99), 50);
  });

  it("moves the greedy pick off a banned or lowered argmax", () => {
    const logits = [1, 4, 2, 3];
    const ban = referenceProbabilities(logits, sampling({ temperature: 0, ...bias({ 1: -100 }) }), none);
    expectProbabilities(ban, [0, 0, 0, 1]);
    const raise = referenceProbabilities(logits, sampling({ temperature: 0, ...bias({ 0: 5 }) }), none);
    expectProbabilities(raise, [1, 0, 0, 0]);
  });

  it("never lets a banned token into the nucleus, even at top_p 1", () => {
    const p = referenceProbabilities([10, 0, 0], sampling({ topP: 1, ...bias({ 0: -100 }) }), none);
    expectProbabilities(p, [0, 0.5, 0.5]);
  });

  it("refuses to sample when every token is banned", () => {
    expect(() => referenceProbabilities([0, 0], sampling(bias({ 0: -100, 1: -100 })), none)).toThrow(
      /banned/,
    );
  });
});

describe("adjustLogits: penalties", () => {
  it("subtracts frequency × count plus presence once per generated token", () => {
    const adjusted = adjustLogits(
      [1, 1, 1, 1],
      sampling({ frequencyPenalty: 0.5, presencePenalty: 0.25 }),
      Int32Array.from([2, 3, 2, 2]),
    );
    // Token 2 appeared 3 times: 1 - 1.5 - 0.25; token 3 once: 1 - 0.5 - 0.25.
    expect(Array.from(adjusted)).toEqual([1, 1, -0.75, 0.25]);
  });

  it("rewards repetition with negative penalties", () => {
    const adjusted = adjustLogits(
      [0, 0],
      sampling({ frequencyPenalty: -1, presencePenalty: -2 }),
      Int32Array.from([1, 1]),
    );
    expect(Array.from(adjusted)).toEqual([0, 4]);
  });

  it("adds the bias after the penalties, and a ban wins over both", () => {
    const adjusted = adjustLogits(
      [0, 0, 0],
      sampling({ presencePenalty: 1, ...bias({ 0: 2, 1: -100 }) }),
      Int32Array.from([0, 1]),
    );
    expect(Array.from(adjusted)).toEqual([1, -Infinity, 0]);
  });

  it("does not modify the caller's logits", () => {
    const logits = Float32Array.from([1, 2]);
    adjustLogits(logits, sampling({ presencePenalty: 1, ...bias({ 1: -100 }) }), Int32Array.from([0]));
    expect(Array.from(logits)).toEqual([1, 2]);
  });

  it("can flip the greedy pick", () => {
    const p = referenceProbabilities(
      [3, 2.5, 0],
      sampling({ temperature: 0, presencePenalty: 1 }),
      Int32Array.from([0]),
    );
    expectProbabilities(p, [0, 1, 0]);
  });

  it("feed into the softmax", () => {
    // [ln 4, ln 2, 0] with frequency ln 2 on token 0 twice: [0, ln 2, 0] → [1, 2, 1] / 4.
    const p = referenceProbabilities(
      [Math.log(4), Math.LN2, 0],
      sampling({ frequencyPenalty: Math.LN2 / 2 }),
      Int32Array.from([0, 0, 0, 0]),
    );
    expectProbabilities(p, [0.25, 0.5, 0.25]);
  });
});
