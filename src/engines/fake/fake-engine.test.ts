import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../engine.ts";
import { collectRun, describeEngineContract } from "../engine.contract.ts";
import { FakeEngine } from "./fake-engine.ts";

const VOCAB_SIZE = 1000;
const STOP_TOKEN = 999;
const PROMPT = [1, 2, 3, 4, 5, 6, 7, 8];
const GREEDY_OUTPUT = Array.from({ length: 40 }, (_, i) => 100 + i);

/**
 * A script that models sampling the way a real model would look from outside: greedy output is
 * fixed, sampled output follows the seed (a random one when none is given).
 */
function seededScriptForTest(req: GenerationRequest): number[] {
  if (req.sampling.temperature === 0) return GREEDY_OUTPUT;
  let state = (req.sampling.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  return Array.from({ length: 40 }, () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return (((t ^ (t >>> 14)) >>> 0) % (VOCAB_SIZE - 1)) + 0;
  });
}

describeEngineContract("fake (no delay)", () =>
  Promise.resolve({
    engine: new FakeEngine({ modelId: "fake-model", script: seededScriptForTest, maxSequences: 4 }),
    prompt: PROMPT,
    vocabSize: VOCAB_SIZE,
    stopToken: STOP_TOKEN,
  }),
);

describeEngineContract("fake (1 ms per token, 3 tokens per event)", () =>
  Promise.resolve({
    engine: new FakeEngine({
      modelId: "fake-model",
      script: seededScriptForTest,
      maxSequences: 3,
      tokenDelayMs: 1,
      tokensPerEvent: 3,
    }),
    prompt: PROMPT,
    vocabSize: VOCAB_SIZE,
    stopToken: STOP_TOKEN,
  }),
);

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "fake-test",
  promptTokens: PROMPT,
  stopTokens: [STOP_TOKEN],
  maxTokens: 100,
  sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
  ...overrides,
});

describe("FakeEngine", () => {
  it("emits the script up to and including its stop token", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [5, 6, STOP_TOKEN, 7] });
    const run = await collectRun(engine, request());
    expect(run.tokens).toEqual([5, 6, STOP_TOKEN]);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: STOP_TOKEN });
  });

  it("ends with 'stop' and no stop token when the script runs out", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [5, 6] });
    const run = await collectRun(engine, request());
    expect(run.tokens).toEqual([5, 6]);
    expect(run.finish.reason).toBe("stop");
    expect(run.finish.stopToken).toBeUndefined();
  });

  it("repeats the script with ignoreStopTokens, for fixed-length benchmarks", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [5, STOP_TOKEN] });
    const run = await collectRun(engine, request({ maxTokens: 5, ignoreStopTokens: true }));
    expect(run.tokens).toEqual([5, STOP_TOKEN, 5, STOP_TOKEN, 5]);
    expect(run.finish.reason).toBe("length");
  });

  it("reports the longest cached prefix across remembered prompts and outputs", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [50, 51], maxSequences: 2 });
    await collectRun(engine, request({ promptTokens: [1, 2, 3] }));
    // The slot holds prompt + output [1, 2, 3, 50, 51]: a follow-up turn reuses all of it.
    const followUp = await collectRun(engine, request({ promptTokens: [1, 2, 3, 50, 51, 9] }));
    expect(followUp.finish.usage.cachedTokens).toBe(5);
    const other = await collectRun(engine, request({ promptTokens: [7, 7, 7] }));
    expect(other.finish.usage.cachedTokens).toBe(0);
  });

  it("refuses a prompt that does not fit the context", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [1], contextSize: 8 });
    await expect(
      collectRun(engine, request({ promptTokens: [1, 2, 3, 4, 5, 6, 7, 8] })),
    ).rejects.toMatchObject({
      code: "context_length_exceeded",
    });
  });

  it("caps output at the context size and reports 'length'", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => GREEDY_OUTPUT, contextSize: 12 });
    const run = await collectRun(engine, request({ promptTokens: PROMPT, maxTokens: 100 }));
    expect(run.finish.reason).toBe("length");
    expect(PROMPT.length + run.tokens.length).toBe(12);
  });

  it("queues requests beyond maxSequences until a sequence frees", async () => {
    const engine = new FakeEngine({
      modelId: "m",
      script: () => GREEDY_OUTPUT,
      maxSequences: 1,
      tokenDelayMs: 1,
    });
    const runs = await Promise.all([
      collectRun(engine, request({ maxTokens: 3 })),
      collectRun(engine, request({ maxTokens: 3 })),
    ]);
    expect(runs.map((r) => r.finish.reason)).toEqual(["length", "length"]);
    expect(runs[1]?.finish.usage.cachedTokens).toBeGreaterThan(0);
  });

  it("streams tens of thousands of tokens per second with no delay", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => GREEDY_OUTPUT });
    const started = performance.now();
    const run = await collectRun(engine, request({ maxTokens: 5000, ignoreStopTokens: true }));
    const seconds = (performance.now() - started) / 1000;
    expect(run.tokens).toHaveLength(5000);
    // Generous bound (the target is 100k/s): only catches an accidental per-token timer or sleep.
    expect(5000 / seconds).toBeGreaterThan(10_000);
  });
});

describe("FakeEngine with a grammar", () => {
  const base = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
    id: "g",
    promptTokens: PROMPT,
    stopTokens: [STOP_TOKEN],
    maxTokens: 20,
    sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
    ...over,
  });

  it("records each request's grammar and reports the capability", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [1, 2, STOP_TOKEN] });
    expect(engine.info.capabilities.grammar).toBe(true);
    await collectRun(engine, base({ grammar: { gbnf: 'root ::= "x"' } }));
    await collectRun(engine, base());
    expect(engine.grammarsSeen).toEqual([{ gbnf: 'root ::= "x"' }, undefined]);
  });

  it("ends on a stop token under a grammar even with ignoreStopTokens and minTokens, as llama-cpp does", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [1, STOP_TOKEN, 3, 4] });
    const run = await collectRun(
      engine,
      base({ grammar: { gbnf: 'root ::= "x"' }, ignoreStopTokens: true, minTokens: 10 }),
    );
    expect(run.tokens).toEqual([1, STOP_TOKEN]);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: STOP_TOKEN });
    // Without a grammar the same request runs on through the stop token.
    const free = await collectRun(engine, base({ ignoreStopTokens: true, maxTokens: 6 }));
    expect(free.tokens).toHaveLength(6);
  });

  it("without the capability, refuses a grammar it cannot apply", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [1], grammar: false });
    await expect(collectRun(engine, base({ grammar: { gbnf: 'root ::= "x"' } }))).rejects.toMatchObject({
      code: "engine_error",
    });
  });
});
