/**
 * Test support, not production code: the tiny-model engine options, constants, request builders and
 * waits that the native engine's tests share (native-engine.test.ts and the three
 * native-engine.*.stress.test.ts files). Only test files import it; it imports vitest's `expect`, so
 * nothing that ships may.
 *
 * The stress tests try to break the native engine on the tiny model (CPU, one thread). Their main
 * oracle is greedy decoding: a prompt's greedy tokens must not depend on what the slot's cache held
 * before or on what ran beside it (kv_unified off: a sequence's attention reads only its own cells).
 * Every greedy run, cancelled ones included, must yield a prefix of its prompt's reference. Runs
 * forced by a logit bias check the routing and the stop rules exactly.
 *
 * Exactness has a llama.cpp limit, measured here: on the CPU a one-token micro-batch is multiplied
 * with ggml's vec_dot and a larger one with tinyBLAS (sgemm.cpp: "only enable sgemm for prompt
 * processing"), whose sums round differently; and with one KV stream per sequence llama.cpp splits
 * a batch into micro-batches of consecutive sequence ids (llama_batch_allocr::split_equal,
 * `sequential`), so which path a sequence's token takes depends on which other slots are busy. The
 * logits then differ in their last bits. Over the random model's nearly flat distributions that
 * moves a seeded draw every dozen tokens or so (so seeds are checked only where the steps are alike:
 * one slot, the cache erased first), and a greedy one rarely: of these prompts' first 60 greedy
 * tokens, one moved (prompt 1, token 20). Greedy references are trusted for their first
 * TRUSTED_TOKENS tokens.
 */
import { copyFile, open } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { gguf } from "@huggingface/gguf";
import { expect } from "vitest";
import { defaultCacheDir } from "../../config/defaults.ts";
import { ensureTinyModel } from "../../models/tiny-model.ts";
import type { Engine, GenerationRequest, SamplingParams } from "../engine.ts";
import type { NativeEngineOptions } from "./native-engine.ts";

/** The tiny model's vocabulary size (gpt-oss's o200k_harmony): the first id outside it. */
export const VOCAB_SIZE = 201_088;
/** <|return|>: the harmony token that ends a final answer. */
export const RETURN_TOKEN = 200_002;
/** A short harmony-looking prompt, as in native-engine.test.ts. */
export const TINY_PROMPT = [
  200_006, 1428, 200_008, 13_225, 11, 1495, 553, 481, 30, 200_007, 200_006, 173_781,
];
/** Longer than the engines' small batches here: prefilled in chunks, beside other sequences' decode. */
export const LONG_PROMPT = Array.from({ length: 150 }, (_, i) => 1000 + ((i * 37) % 3000));
/** Shares no first token with the prompts above: a slot it ran on reuses nothing for them. */
export const UNRELATED = [4000, 200_006, 4001, 200_008, 4002];
/** Reference runs are this long; no run asks for more. */
export const REF_TOKENS = 40;
/** How much of a greedy reference the churn holds runs to (see the header). */
export const TRUSTED_TOKENS = 16;
/** Token 1000, then only <|return|> may follow (every other end-of-generation token is banned). */
export const GRAMMAR = { gbnf: "root ::= <[1000]>" };

/** Greedy, with no penalty or bias: how references and most runs sample. */
export const GREEDY: SamplingParams = {
  temperature: 0,
  topP: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: new Map(),
};

/** The tiny model on the CPU, 4 slots of 1024 tokens; each suite overrides what it exercises. */
export async function engineOptions(
  overrides: Partial<NativeEngineOptions> = {},
): Promise<NativeEngineOptions> {
  return {
    modelPath:
      process.env.GPTOSS_TINY_MODEL ??
      (await ensureTinyModel(process.env.GPTOSS_CACHE_DIR ?? defaultCacheDir())),
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    randomWeights: true,
    maxSequences: 4,
    contextSizePerSequence: 1024,
    gpuMode: "cpu",
    // One thread: llama.cpp's worker threads spin while waiting (engines/README.md).
    threads: 1,
    ...overrides,
  };
}

let requestCounter = 0;
/** A greedy, REF_TOKENS-long request for TINY_PROMPT with a fresh id, with `overrides` applied. */
export const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: `stress-${++requestCounter}`,
  promptTokens: TINY_PROMPT,
  stopTokens: [],
  maxTokens: REF_TOKENS,
  sampling: GREEDY,
  ...overrides,
});

/** mulberry32: the churn is random but replayable from the seed its failure messages name. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Waits until every leased slot is back (a cancelled slot returns only at its native finish). */
export async function expectIdle(engine: Engine): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (engine.health().activeSequences > 0 && performance.now() < deadline) await sleep(10);
  expect(engine.health().activeSequences).toBe(0);
}

/** A copy of the tiny model whose output norm is NaN: every logit of every step is NaN. */
export async function nanWeightsModel(dir: string): Promise<string> {
  const source = (await engineOptions()).modelPath;
  const { tensorInfos, tensorDataOffset } = await gguf(source, { allowLocalFile: true });
  const norm = tensorInfos.find((t) => t.name === "output_norm.weight");
  if (norm === undefined) throw new Error("the tiny model has no output_norm.weight");
  expect(norm.dtype).toBe(0); // F32
  const path = join(dir, "nan-weights.gguf");
  await copyFile(source, path);
  const file = await open(path, "r+");
  try {
    const values = Number(norm.shape.reduce((a, b) => a * b, 1n));
    const nan = new Float32Array(values).fill(Number.NaN);
    await file.write(Buffer.from(nan.buffer), 0, nan.byteLength, Number(tensorDataOffset + norm.offset));
  } finally {
    await file.close();
  }
  return path;
}
