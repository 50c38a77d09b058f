import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCacheDir } from "../../config/defaults.ts";
import { ensureTinyModel } from "../../models/tiny-model.ts";
import { collectRun, describeEngineContract } from "../engine.contract.ts";
import type { Engine, GenerationRequest, SamplingParams } from "../engine.ts";
import { createLlamaCppEngine, type LlamaCppEngineOptions } from "./llama-cpp-engine.ts";

/** gpt-oss's vocabulary (o200k_harmony), which the tiny model carries in full. */
const VOCAB_SIZE = 201_088;
/** <|return|>: the harmony token that ends a final answer. */
const RETURN_TOKEN = 200_002;
/** A short harmony-looking prompt: <|start|>user<|message|>... (ids from o200k_harmony). */
const PROMPT = [200_006, 1428, 200_008, 13_225, 11, 1495, 553, 481, 30, 200_007, 200_006, 173_781];

async function tinyModelPath(): Promise<string> {
  return (
    process.env.GPTOSS_TINY_MODEL ??
    (await ensureTinyModel(process.env.GPTOSS_CACHE_DIR ?? defaultCacheDir()))
  );
}

async function tinyEngineOptions(): Promise<LlamaCppEngineOptions> {
  return {
    modelPath: await tinyModelPath(),
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    randomWeights: true,
    maxSequences: 4,
    contextSizePerSequence: 1024,
    gpuMode: "cpu",
    // One thread: llama.cpp's worker threads spin while waiting, and on a small, busy machine
    // (tests run in parallel) spinning threads slow decoding by orders of magnitude.
    threads: 1,
  };
}

describeEngineContract("llama-cpp (tiny model, CPU)", async () => ({
  engine: await createLlamaCppEngine(await tinyEngineOptions()),
  prompt: PROMPT,
  vocabSize: VOCAB_SIZE,
  stopToken: RETURN_TOKEN,
}));

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "llama-test",
  promptTokens: PROMPT,
  stopTokens: [RETURN_TOKEN],
  maxTokens: 6,
  sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
  ...overrides,
});

describe("llama-cpp engine", () => {
  let engine: Engine;
  const sampling = (overrides: Partial<SamplingParams>): SamplingParams => ({
    ...request().sampling,
    ...overrides,
  });

  beforeAll(async () => {
    engine = await createLlamaCppEngine({ ...(await tinyEngineOptions()), maxSequences: 2 });
  });
  afterAll(async () => {
    await engine.close();
  });

  it("refuses tensor parallelism (only the native core asks llama.cpp for it), before loading anything", async () => {
    const options = { ...(await tinyEngineOptions()), gpuMode: "tensor" as const };
    await expect(createLlamaCppEngine(options)).rejects.toMatchObject({
      code: "invalid_value",
      message: expect.stringContaining("native core") as unknown,
    });
  });

  it("reports what it runs", () => {
    expect(engine.info).toMatchObject({
      name: "llama-cpp",
      gpuMode: "cpu",
      contextSize: 1023, // one cell spare for node-llama-cpp's context shift
      maxSequences: 2,
      randomWeights: true,
    });
  });

  it("bans a token with logit bias -100", async () => {
    const greedy = await collectRun(engine, request());
    const first = greedy.tokens[0]!;
    const banned = await collectRun(
      engine,
      request({ sampling: sampling({ logitBias: new Map([[first, -100]]) }) }),
    );
    expect(banned.tokens[0]).not.toBe(first);
  });

  it("applies presence and frequency penalties over the generated tokens", async () => {
    const plain = await collectRun(engine, request({ maxTokens: 32 }));
    const distinct = (tokens: number[]): number => new Set(tokens).size;
    // Greedy decoding of the random tiny model repeats a few tokens in 32; a penalty of 2 on a
    // flat logit distribution rules every repeat out, a negative one makes repeats win.
    const presence = await collectRun(
      engine,
      request({ maxTokens: 32, sampling: sampling({ presencePenalty: 2 }) }),
    );
    const frequency = await collectRun(
      engine,
      request({ maxTokens: 32, sampling: sampling({ frequencyPenalty: 2 }) }),
    );
    const attracted = await collectRun(
      engine,
      request({ maxTokens: 32, sampling: sampling({ presencePenalty: -2 }) }),
    );
    expect(distinct(plain.tokens)).toBeLessThan(32);
    expect(distinct(presence.tokens)).toBe(32);
    expect(distinct(frequency.tokens)).toBe(32);
    expect(distinct(attracted.tokens)).toBeLessThan(distinct(plain.tokens));
  });

  it("reuses a whole previous turn as the prefix of a follow-up prompt", async () => {
    const first = await collectRun(engine, request({ maxTokens: 4 }));
    // The sequence holds the prompt and all generated tokens but the last (never decoded).
    const followUp = [...PROMPT, ...first.tokens, 200_007, 200_006];
    const next = await collectRun(engine, request({ promptTokens: followUp, maxTokens: 2 }));
    expect(next.finish.usage.cachedTokens).toBe(PROMPT.length + first.tokens.length - 1);
  });

  it("refuses a prompt longer than a sequence's context", async () => {
    const tooLong = Array.from({ length: 1100 }, (_, i) => 1000 + i);
    await expect(collectRun(engine, request({ promptTokens: tooLong }))).rejects.toMatchObject({
      code: "context_length_exceeded",
    });
  });

  it("stops at the context size with finish 'length'", async () => {
    const nearlyFull = Array.from({ length: 1020 }, (_, i) => 1000 + (i % 500));
    const run = await collectRun(engine, request({ promptTokens: nearlyFull, maxTokens: 50 }));
    expect(run.finish.reason).toBe("length");
    expect(nearlyFull.length + run.tokens.length).toBe(1023);
  });
});

describe("llama-cpp engine under load", () => {
  it("starts a request that must erase a stale tail while other sequences keep decoding", async () => {
    const engine = await createLlamaCppEngine({ ...(await tinyEngineOptions()), maxSequences: 4 });
    try {
      // Fill every sequence with other prompts, so the next request's sequence has a tail to erase.
      const other = (n: number): number[] => [...PROMPT.slice(0, 3), 1000 + n, 2000 + n, ...PROMPT.slice(3)];
      await Promise.all(
        [0, 1, 2, 3].map((n) => collectRun(engine, request({ id: `fill-${n}`, promptTokens: other(n) }))),
      );
      // Long streams keep the engine decoding...
      const order: string[] = [];
      const long = [4, 5, 6].map((n) =>
        collectRun(
          engine,
          request({ id: `long-${n}`, promptTokens: other(n), maxTokens: 200, ignoreStopTokens: true }),
        ).then((run) => {
          order.push("long");
          return run;
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      // ...and a short request needing an erase must not wait for them to finish (node-llama-cpp's
      // decode loop held the context lock until then: erase-barrier.ts).
      const short = await collectRun(engine, request({ id: "short", promptTokens: other(9), maxTokens: 2 }));
      order.push("short");
      expect(short.finish.usage.cachedTokens).toBeGreaterThan(0);
      for (const run of await Promise.all(long)) expect(run.finish.usage.completionTokens).toBe(200);
      expect(order[0]).toBe("short");
    } finally {
      await engine.close();
    }
  });
});
