/**
 * gpt-oss as llama.cpp reads it (architecture "gpt-oss", src/models/openai-moe.cpp): the metadata keys
 * and the tensor list with names, shapes and types, each tensor paired with a seeded random producer.
 * Key names follow gguf-py/gguf/constants.py; tensor types follow convert_hf_to_gguf.py (F32 for
 * norms, biases, sinks and the router; F16 for dense matrices; MXFP4 for the experts).
 */
import { GGML_TYPE, tensorByteSize, type GgmlTypeId, type GgufKv } from "./gguf-format.ts";
import type { GgufTensorSpec } from "./gguf-writer.ts";
import { GPT_OSS_VOCAB_SIZE, type GptOssVocab } from "./gpt-oss-vocab.ts";
import { f16Pool, f32Values, mxfp4Pool, q8Pool, writeFromPool, type RandomPool } from "./random-weights.ts";

export type GptOssSize = "tiny" | "20b" | "120b";

/**
 * How the dense matrices a decode step reads (the attention projections and the output matrix) are
 * stored: F16 as convert_hf_to_gguf.py writes them, or Q8_0, half the bytes (what
 * `llama-quantize --tensor-type attn=q8_0 --output-tensor-type q8_0` makes of a real model). The token
 * embeddings stay F16 (a step reads one row of them).
 */
export type DenseType = "f16" | "q8_0";

export interface GptOssHparams {
  layers: number;
  experts: number;
  expertsUsed: number;
  embd: number;
  expertFf: number;
  heads: number;
  headsKv: number;
  headDim: number;
  vocab: number;
}

/** Real shapes from config.json of openai/gpt-oss-20b and -120b; `tiny` keeps the architecture. */
export const GPT_OSS_HPARAMS: Readonly<Record<GptOssSize, Readonly<GptOssHparams>>> = {
  "20b": {
    layers: 24,
    experts: 32,
    expertsUsed: 4,
    embd: 2880,
    expertFf: 2880,
    heads: 64,
    headsKv: 8,
    headDim: 64,
    vocab: GPT_OSS_VOCAB_SIZE,
  },
  "120b": {
    layers: 36,
    experts: 128,
    expertsUsed: 4,
    embd: 2880,
    expertFf: 2880,
    heads: 64,
    headsKv: 8,
    headDim: 64,
    vocab: GPT_OSS_VOCAB_SIZE,
  },
  // 2 layers so both a sliding-window and a full-attention layer exist; head dim 64 as in the real
  // model so GPU attention kernels take the same paths; MXFP4 rows need multiples of 32.
  tiny: {
    layers: 2,
    experts: 8,
    expertsUsed: 4,
    embd: 64,
    expertFf: 64,
    heads: 8,
    headsKv: 2,
    headDim: 64,
    vocab: GPT_OSS_VOCAB_SIZE,
  },
};

/** Shared by both sizes (config.json): YaRN factor 32 over 4096 → 131072 tokens. */
const CONTEXT_LENGTH = 131072;
const ROPE_FREQ_BASE = 150000;
const ROPE_SCALING_FACTOR = 32;
const ROPE_ORIGINAL_CONTEXT = 4096;
const SLIDING_WINDOW = 128;
const RMS_EPS = 1e-5;
/** llama_ftype LLAMA_FTYPE_MOSTLY_MXFP4_MOE, as in the official GGUFs. */
const FILE_TYPE_MXFP4_MOE = 38;

/** Bump when the generated file changes, so caches regenerate. */
export const RANDOM_MODEL_FORMAT_VERSION = 1;

export function gptOssMetadata(
  size: GptOssSize,
  vocab: GptOssVocab,
  seed: number,
  denseType: DenseType = "f16",
): GgufKv[] {
  const hp = GPT_OSS_HPARAMS[size];
  const a = "gpt-oss";
  const u32 = (key: string, value: number): GgufKv => ({ key, value: { type: "u32", value } });
  const f32 = (key: string, value: number): GgufKv => ({ key, value: { type: "f32", value } });
  const str = (key: string, value: string): GgufKv => ({ key, value: { type: "string", value } });
  const kv: GgufKv[] = [
    str("general.architecture", a),
    str("general.type", "model"),
    str("general.name", `gpt-oss-${size} (random weights${denseType === "q8_0" ? ", Q8_0 dense" : ""})`),
    u32("general.file_type", FILE_TYPE_MXFP4_MOE),
    u32("general.quantization_version", 2),
    u32(`${a}.block_count`, hp.layers),
    u32(`${a}.context_length`, CONTEXT_LENGTH),
    u32(`${a}.embedding_length`, hp.embd),
    u32(`${a}.feed_forward_length`, hp.expertFf),
    u32(`${a}.attention.head_count`, hp.heads),
    u32(`${a}.attention.head_count_kv`, hp.headsKv),
    f32(`${a}.rope.freq_base`, ROPE_FREQ_BASE),
    f32(`${a}.attention.layer_norm_rms_epsilon`, RMS_EPS),
    u32(`${a}.expert_count`, hp.experts),
    u32(`${a}.expert_used_count`, hp.expertsUsed),
    u32(`${a}.attention.key_length`, hp.headDim),
    u32(`${a}.attention.value_length`, hp.headDim),
    u32(`${a}.attention.sliding_window`, SLIDING_WINDOW),
    u32(`${a}.expert_feed_forward_length`, hp.expertFf),
    str(`${a}.rope.scaling.type`, "yarn"),
    f32(`${a}.rope.scaling.factor`, ROPE_SCALING_FACTOR),
    u32(`${a}.rope.scaling.original_context_length`, ROPE_ORIGINAL_CONTEXT),
    str("tokenizer.ggml.model", "gpt2"),
    str("tokenizer.ggml.pre", "gpt-4o"),
    { key: "tokenizer.ggml.tokens", value: { type: "array", itemType: "string", value: vocab.tokens } },
    { key: "tokenizer.ggml.token_type", value: { type: "array", itemType: "i32", value: vocab.tokenTypes } },
    { key: "tokenizer.ggml.merges", value: { type: "array", itemType: "string", value: vocab.merges } },
    u32("tokenizer.ggml.bos_token_id", vocab.bosId),
    u32("tokenizer.ggml.eos_token_id", vocab.eosId),
    u32("tokenizer.ggml.padding_token_id", vocab.padId),
  ];
  if (vocab.chatTemplate !== undefined) kv.push(str("tokenizer.chat_template", vocab.chatTemplate));
  // Our own keys: the server must always be able to tell a random-weight model from a real one.
  kv.push({ key: "gpt_oss_server.random_weights", value: { type: "bool", value: true } });
  kv.push(u32("gpt_oss_server.format_version", RANDOM_MODEL_FORMAT_VERSION));
  kv.push(u32("gpt_oss_server.seed", seed >>> 0));
  return kv;
}

/** Lazily built, shared random pools: planning a 61 GB model costs nothing until data is written. */
class PoolSet {
  readonly #seed: number;
  readonly #poolBytes: number;
  readonly #pools = new Map<string, RandomPool>();

  constructor(seed: number, poolBytes: number) {
    this.#seed = seed;
    this.#poolBytes = poolBytes;
  }

  f16(fanIn: number): RandomPool {
    // Uniform with std 1/sqrt(fanIn) keeps each matmul roughly norm-preserving.
    return this.#get(`f16:${fanIn}`, () => f16Pool(this.#seed, fanIn, Math.sqrt(3 / fanIn), this.#poolBytes));
  }

  q8(fanIn: number): RandomPool {
    return this.#get(`q8:${fanIn}`, () =>
      q8Pool(this.#seed, 2000 + fanIn, Math.sqrt(3 / fanIn), this.#poolBytes),
    );
  }

  mxfp4(): RandomPool {
    return this.#get("mxfp4", () => mxfp4Pool(this.#seed, 1, this.#poolBytes));
  }

  #get(key: string, build: () => RandomPool): RandomPool {
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = build();
      this.#pools.set(key, pool);
    }
    return pool;
  }
}

interface TensorPlanEntry {
  name: string;
  shape: number[];
  type: GgmlTypeId;
  fill:
    | { kind: "f16"; fanIn: number }
    | { kind: "q8_0"; fanIn: number }
    | { kind: "mxfp4" }
    | { kind: "f32"; center: number; spread: number };
}

function tensorEntries(hp: GptOssHparams, denseType: DenseType): TensorPlanEntry[] {
  const { embd, vocab, headDim, experts, expertFf } = hp;
  const qDim = hp.heads * headDim;
  const kvDim = hp.headsKv * headDim;
  const f16 = (name: string, shape: number[], fanIn: number): TensorPlanEntry => ({
    name,
    shape,
    type: GGML_TYPE.F16,
    fill: { kind: "f16", fanIn },
  });
  // The matrices a decode step multiplies by: F16, or Q8_0 with --dense-type q8_0.
  const dense = (name: string, shape: number[], fanIn: number): TensorPlanEntry =>
    denseType === "q8_0"
      ? { name, shape, type: GGML_TYPE.Q8_0, fill: { kind: "q8_0", fanIn } }
      : f16(name, shape, fanIn);
  const f32 = (name: string, shape: number[], center: number, spread: number): TensorPlanEntry => ({
    name,
    shape,
    type: GGML_TYPE.F32,
    fill: { kind: "f32", center, spread },
  });
  const mx = (name: string, shape: number[]): TensorPlanEntry => ({
    name,
    shape,
    type: GGML_TYPE.MXFP4,
    fill: { kind: "mxfp4" },
  });
  const out: TensorPlanEntry[] = [
    f16("token_embd.weight", [embd, vocab], embd),
    f32("output_norm.weight", [embd], 1, 0.1),
    dense("output.weight", [embd, vocab], embd),
  ];
  const router = Math.sqrt(3 / embd);
  for (let i = 0; i < hp.layers; i++) {
    const b = `blk.${i}`;
    out.push(
      f32(`${b}.attn_norm.weight`, [embd], 1, 0.1),
      dense(`${b}.attn_q.weight`, [embd, qDim], embd),
      f32(`${b}.attn_q.bias`, [qDim], 0, 0.02),
      dense(`${b}.attn_k.weight`, [embd, kvDim], embd),
      f32(`${b}.attn_k.bias`, [kvDim], 0, 0.02),
      dense(`${b}.attn_v.weight`, [embd, kvDim], embd),
      f32(`${b}.attn_v.bias`, [kvDim], 0, 0.02),
      dense(`${b}.attn_output.weight`, [qDim, embd], qDim),
      f32(`${b}.attn_output.bias`, [embd], 0, 0.02),
      f32(`${b}.attn_sinks.weight`, [hp.heads], 0, 1),
      f32(`${b}.post_attention_norm.weight`, [embd], 1, 0.1),
      f32(`${b}.ffn_gate_inp.weight`, [embd, experts], 0, router),
      f32(`${b}.ffn_gate_inp.bias`, [experts], 0, 0.1),
      mx(`${b}.ffn_gate_exps.weight`, [embd, expertFf, experts]),
      f32(`${b}.ffn_gate_exps.bias`, [expertFf, experts], 0, 0.02),
      mx(`${b}.ffn_up_exps.weight`, [embd, expertFf, experts]),
      f32(`${b}.ffn_up_exps.bias`, [expertFf, experts], 0, 0.02),
      mx(`${b}.ffn_down_exps.weight`, [expertFf, embd, experts]),
      f32(`${b}.ffn_down_exps.bias`, [embd, experts], 0, 0.02),
    );
  }
  return out;
}

/** Tensor specs with producers; pools are sized for the model so tiny stays quick to build. */
export function gptOssTensors(
  size: GptOssSize,
  seed: number,
  denseType: DenseType = "f16",
): GgufTensorSpec[] {
  const pools = new PoolSet(seed >>> 0, size === "tiny" ? 2 << 20 : 32 << 20);
  return tensorEntries(GPT_OSS_HPARAMS[size], denseType).map((entry, index): GgufTensorSpec => {
    const { name, shape, type, fill } = entry;
    const byteSize = tensorByteSize(shape, type);
    return {
      name,
      shape,
      type,
      write: async (sink) => {
        switch (fill.kind) {
          case "f16":
            return writeFromPool(sink, pools.f16(fill.fanIn), byteSize, seed, index);
          case "q8_0":
            return writeFromPool(sink, pools.q8(fill.fanIn), byteSize, seed, index);
          case "mxfp4":
            return writeFromPool(sink, pools.mxfp4(), byteSize, seed, index);
          case "f32":
            return sink.write(f32Values(byteSize / 4, seed, 1000 + index, fill.center, fill.spread));
        }
      },
    };
  });
}
