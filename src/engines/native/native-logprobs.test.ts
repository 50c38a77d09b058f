/**
 * Logprobs from the native core: its log-softmax (`logprobsForTest`, the function the decode loop
 * calls) against the float64 reference (reference-sampler.ts), and the engine over the real tiny
 * model: every token of a run that asks carries its logprob and alternatives, computed over the raw
 * logits (a logit_bias that forces a token does not change the logprob reported for it).
 *
 * Needs the addon (`node scripts/build-native.mjs`), as sampler.statistics.test.ts does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { Engine, GenerationEvent, TokenLogprob } from "../engine.ts";
import { createNativeEngine } from "./native-engine.ts";
import { requireCore } from "./real-core-for-test.ts";
import { referenceLogSoftmax, referenceTopTokens } from "./reference-sampler.ts";
import { engineOptions, request, seededRandom, TINY_PROMPT, VOCAB_SIZE } from "./tiny-engine-support.ts";

function normalLogits(count: number, seed: number, sd: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: count }, () => {
    const u1 = 1 - random();
    return sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
  });
}

describe("native logprobs against the reference log-softmax", () => {
  it("gives log-softmax of the logits for each token, and the top n in order", () => {
    const logits = Float32Array.from([0, Math.LN2, Math.log(3), -1, 2.5]);
    const out = requireCore().logprobsForTest(logits, Int32Array.from([0, 2, 4]), 3);
    const reference = referenceLogSoftmax(logits);
    expect(Array.from(out.logprobs)).toHaveLength(3);
    [0, 2, 4].forEach((token, i) => expect(out.logprobs[i]).toBeCloseTo(reference[token]!, 6));
    // Three alternatives for each of the three tokens, the same list each time.
    expect(Array.from(out.topTokens)).toEqual([4, 2, 1, 4, 2, 1, 4, 2, 1]);
    expect(out.topLogprobs[0]).toBeCloseTo(reference[4]!, 6);
    expect(out.topLogprobs[2]).toBeCloseTo(reference[1]!, 6);
  });

  it("breaks ties by the lower id, and lists no alternatives for top_n 0", () => {
    const logits = Float32Array.from([1, 3, 3, 2, 3]);
    expect(Array.from(requireCore().logprobsForTest(logits, Int32Array.from([3]), 4).topTokens)).toEqual([
      1, 2, 4, 3,
    ]);
    const none = requireCore().logprobsForTest(logits, Int32Array.from([3]), 0);
    expect(none.topTokens).toHaveLength(0);
    expect(none.logprobs[0]).toBeCloseTo(referenceLogSoftmax(logits)[3]!, 6);
  });

  it(`matches over gpt-oss's ${VOCAB_SIZE} tokens (top 20, float32 within 1e-4)`, () => {
    for (const [seed, sd] of [
      [1, 1],
      [2, 4],
      [3, 12],
    ] as const) {
      const logits = normalLogits(VOCAB_SIZE, seed, sd);
      const tokens = Int32Array.from([0, 17, 123_456, VOCAB_SIZE - 1]);
      const out = requireCore().logprobsForTest(logits, tokens, 20);
      const reference = referenceLogSoftmax(logits);
      tokens.forEach((token, i) => expect(Math.abs(out.logprobs[i]! - reference[token]!)).toBeLessThan(1e-4));
      const top = referenceTopTokens(logits, 20);
      expect(Array.from(out.topTokens.subarray(0, 20))).toEqual(top);
      top.forEach((token, k) => expect(Math.abs(out.topLogprobs[k]! - reference[token]!)).toBeLessThan(1e-4));
      // The probabilities of the whole vocabulary sum to one.
      expect(reference.reduce((sum, lp) => sum + Math.exp(lp), 0)).toBeCloseTo(1, 9);
    }
  });
});

function logprobsOf(events: GenerationEvent[]): { tokens: number[]; logprobs: TokenLogprob[] } {
  const tokens: number[] = [];
  const logprobs: TokenLogprob[] = [];
  for (const e of events) {
    if (e.type !== "tokens") continue;
    tokens.push(...e.tokens);
    expect(e.logprobs, "one logprob per token").toHaveLength(e.tokens.length);
    logprobs.push(...(e.logprobs ?? []));
  }
  return { tokens, logprobs };
}

describe("native engine logprobs on the tiny model", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createNativeEngine(await engineOptions({ maxSequences: 2 }));
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });

  it("reports none unless asked", async () => {
    const { events } = await collectRun(engine, request({ maxTokens: 4 }));
    for (const e of events) if (e.type === "tokens") expect(e.logprobs).toBeUndefined();
  });

  it("greedy: each token is its position's most likely, with its logprob and 5 alternatives", async () => {
    const { events } = await collectRun(engine, request({ maxTokens: 8, logprobs: 5 }));
    const { tokens, logprobs } = logprobsOf(events);
    expect(tokens).toHaveLength(8);
    tokens.forEach((token, i) => {
      const entry = logprobs[i]!;
      expect(entry.top).toHaveLength(5);
      expect(entry.top[0]!.token).toBe(token);
      expect(entry.logprob).toBe(entry.top[0]!.logprob);
      expect(entry.logprob).toBeLessThanOrEqual(0);
      for (let k = 1; k < 5; k++)
        expect(entry.top[k]!.logprob).toBeLessThanOrEqual(entry.top[k - 1]!.logprob);
    });
  });

  it("is over the raw logits: a token forced by logit_bias keeps the model's logprob", async () => {
    // A fresh prompt of its own, so both runs read the first position's logits from a full prefill.
    const prompt = [...TINY_PROMPT, 3000];
    const plain = logprobsOf(
      (await collectRun(engine, request({ promptTokens: prompt, maxTokens: 1, logprobs: 20 }))).events,
    );
    const fifth = plain.logprobs[0]!.top[4]!;
    const forced = logprobsOf(
      (
        await collectRun(
          engine,
          request({
            promptTokens: [...prompt],
            maxTokens: 1,
            logprobs: 20,
            sampling: {
              temperature: 1.7,
              topP: 0.5,
              presencePenalty: 0,
              frequencyPenalty: 0,
              logitBias: new Map([[fifth.token, 100]]),
            },
          }),
        )
      ).events,
    );
    expect(forced.tokens).toEqual([fifth.token]);
    expect(forced.logprobs[0]!.logprob).toBeCloseTo(fifth.logprob, 3);
    expect(forced.logprobs[0]!.top.map((t) => t.token)).toEqual(plain.logprobs[0]!.top.map((t) => t.token));
  });

  it("refuses more than 20 alternatives", async () => {
    await expect(collectRun(engine, request({ maxTokens: 1, logprobs: 21 }))).rejects.toMatchObject({
      code: "invalid_value",
    });
  });
});
