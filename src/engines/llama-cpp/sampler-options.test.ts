import type { LlamaModel } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import type { SamplingParams } from "../engine.ts";
import { toEvaluateOptions, toTokenBias } from "./sampler-options.ts";

/** TokenBias only keeps a reference to the tokenizer; nothing is tokenized for numeric ids. */
const modelForTest = {
  tokenizer: Object.assign(() => [], { isEogToken: () => true }),
} as unknown as LlamaModel;

const sampling = (overrides: Partial<SamplingParams> = {}): SamplingParams => ({
  temperature: 1,
  topP: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: new Map(),
  ...overrides,
});

const context = { model: modelForTest, generated: [], maxGenerated: 100 };

describe("toEvaluateOptions", () => {
  it("sets every sampler explicitly to OpenAI's semantics, not node-llama-cpp's defaults", () => {
    const options = toEvaluateOptions(sampling({ temperature: 0.7, topP: 0.9, seed: 42 }), context);
    expect(options).toMatchObject({
      temperature: 0.7,
      topK: 0,
      topP: 0.9,
      minP: 0,
      seed: 42,
      yieldEogToken: true,
    });
    expect(options.repeatPenalty).toBeUndefined();
    expect(options.tokenBias).toBeUndefined();
  });

  it("maps temperature 0 to greedy and draws a random seed when none is given", () => {
    const seeds = new Set(
      Array.from({ length: 5 }, () => toEvaluateOptions(sampling({ temperature: 0 }), context).seed),
    );
    expect(toEvaluateOptions(sampling({ temperature: 0 }), context).temperature).toBe(0);
    expect(seeds.size).toBeGreaterThan(1);
  });

  it("maps penalties onto llama.cpp's additive ones over the generated tokens, repeat penalty off", () => {
    const generated = [5, 6];
    const options = toEvaluateOptions(sampling({ presencePenalty: 0.5, frequencyPenalty: -1 }), {
      ...context,
      generated,
    });
    const penalty = options.repeatPenalty!;
    expect(penalty).toMatchObject({
      penalty: 1,
      presencePenalty: 0.5,
      frequencyPenalty: -1,
      maxPunishTokens: 100,
    });
    generated.push(7);
    expect(typeof penalty.punishTokens === "function" ? penalty.punishTokens() : []).toEqual([5, 6, 7]);
  });
});

describe("toTokenBias", () => {
  it("adds biases as logits, turns -100 into a ban, and keeps end-of-generation tokens", () => {
    const bias = toTokenBias(
      new Map([
        [200_002, 100],
        [17, -100],
        [18, -3.5],
      ]),
      modelForTest,
    );
    // The tokenizer double says every token is end-of-generation: TokenBias.set() would drop them all.
    const internal = (bias as unknown as { _biases: Map<number, number> })._biases;
    expect([...internal]).toEqual([
      [200_002, 100],
      [17, -Infinity],
      [18, -3.5],
    ]);
  });

  it("returns undefined for an empty map", () => {
    expect(toTokenBias(new Map(), modelForTest)).toBeUndefined();
  });
});
