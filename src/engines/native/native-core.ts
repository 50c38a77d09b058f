/**
 * The native core (`native/src/`, built by `npm ci` into `native/build/gptoss_core.node`):
 * a decode loop on its own thread over the llama.cpp library that node-llama-cpp already loaded.
 *
 * Why native: with node-llama-cpp every generated token makes a round trip through JavaScript and
 * is sampled by a full sort of the 201,088-token vocabulary, so on an H100 the GPU sat idle 60-85%
 * of the time (docs/benchmarks.md). Here one step decodes every active sequence in one batch,
 * samples them all in parallel with an exact O(vocabulary) sampler, and goes straight on to the
 * next step; JavaScript only hands in requests and receives tokens, off the critical path.
 *
 * This file is the contract between the addon and TypeScript, and the loader. The addon is
 * optional at runtime: `loadNativeCore()` returns undefined where it was not built (no compiler
 * on an unusual platform), and the server falls back to the node-llama-cpp engine.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * Where `scripts/build-native.mjs` puts the addon. GPTOSS_NATIVE_CORE points elsewhere (a build of
 * one's own, or a path that does not exist to run without it, as a machine without a compiler does).
 */
export const NATIVE_CORE_PATH =
  process.env.GPTOSS_NATIVE_CORE ??
  fileURLToPath(new URL("../../../native/build/gptoss_core.node", import.meta.url));

export interface NativeOpenOptions {
  /** Absolute path of the libllama shared library already loaded in this process. */
  libllamaPath: string;
  modelPath: string;
  /** Layers to offload to the GPU: 0 keeps the model on the CPU, -1 offloads all. */
  gpuLayers: number;
  /** "layer" splits layers across the visible GPUs (pipeline); "none" uses one GPU. */
  /** none: one GPU; layer: layers split across the GPUs (pipeline); tensor: tensor parallelism. */
  splitMode: "none" | "layer" | "tensor";
  /** Sequences that can generate at once (llama.cpp n_seq_max). */
  sequences: number;
  /** KV cells per sequence (each sequence has its own KV stream, kv_unified off). */
  contextPerSequence: number;
  /** Most tokens one decode step may carry (n_batch); prompts are fed in chunks up to it. */
  batchSize: number;
  /** llama.cpp's CPU threads (the model's compute when it runs on the CPU). */
  threads: number;
  /** Host threads that sample the sequences of a step in parallel. */
  samplerThreads: number;
  /**
   * How long idle sampler threads spin before they sleep, in microseconds (default 0). Waking
   * sleeping threads costs tens of microseconds per step, on the critical path of a lone stream;
   * spinning costs CPU, so only where the model runs on a GPU and the host's cores are spare.
   */
  samplerSpinMicros?: number;
  /** Flash attention: "auto" lets llama.cpp decide. */
  flashAttention: "auto" | "on" | "off";
  /**
   * Block statistics of the logits computed on the device that holds them (native/src/
   * logit_block_stats.h): a draw then reads one block of its row on the host instead of the whole
   * row. "auto" (the default): with the whole model on one GPU and at least 8 sequences in a step;
   * "on": every step, wherever the logits are (tests on a CPU); "check": as "on", and every such draw
   * is made again from the whole row and must agree (blockStatMismatches counts those that did not);
   * "off": never.
   */
  blockStats?: "auto" | "on" | "check" | "off";
  /**
   * "on": when the busy sequences' KV streams are not consecutive (sequences ended out of order), the
   * core moves sequences into the gaps so that a step stays one llama.cpp micro-batch; the free slots
   * whose streams are taken lose their cached prefixes. "off" (the default until a GPU run has measured
   * it): never. With the model on one GPU only.
   */
  compactStreams?: "on" | "off";
}

/** OpenAI sampling semantics; see engine.ts SamplingParams. */
export interface NativeSampling {
  temperature: number;
  topP: number;
  /** Integer seed; undefined draws one from the system's entropy. */
  seed?: number | undefined;
  presencePenalty: number;
  frequencyPenalty: number;
  /** logit_bias as two parallel arrays; a bias of -100 or less bans the token outright. */
  biasTokens: Int32Array;
  biasValues: Float32Array;
}

export interface NativeSequenceRequest {
  /** 0 <= slot < sequences; a slot generates one request at a time. */
  slot: number;
  /** The whole prompt. */
  tokens: Int32Array;
  /**
   * How many leading prompt tokens the slot's KV cache already holds (prefix reuse); the rest of
   * the slot's cache is erased. Must be < tokens.length: the last prompt token is always evaluated.
   */
  reuse: number;
  /** Generated-token cap (stop tokens included). */
  maxTokens: number;
  /** Sampling one of these ends the sequence with reason "stop" once minTokens are generated. */
  stopTokens: Int32Array;
  minTokens: number;
  sampling: NativeSampling;
  /** GBNF over the whole output (root rule `root`); stop tokens then always end the sequence. */
  grammar?: string | undefined;
  /**
   * Report each sampled token's logprob and this many alternatives (0..20); absent or -1: none.
   * Over the raw logits, before every adjustment (engine.ts GenerationRequest.logprobs).
   */
  logprobs?: number | undefined;
}

export type NativeFinishReason = "stop" | "length" | "cancelled" | "error";

/** What one slot produced since the last delivery. */
export interface NativeSlotEvents {
  slot: number;
  /** Tokens sampled since the last delivery, in order (may be empty on a finish). */
  tokens: Int32Array;
  /** With `logprobs` asked for: each token's logprob. */
  logprobs?: Float32Array;
  /** With `logprobs` asked for: `logprobs` alternatives per token, token after token (most likely first). */
  topTokens?: Int32Array;
  topLogprobs?: Float32Array;
  finish?: {
    reason: NativeFinishReason;
    /** Prompt tokens that were served from the slot's cache (may be lower than the reuse asked). */
    cachedTokens: number;
    /** Tokens the slot's KV cache holds now: the prompt and every generated token but the last. */
    kvLength: number;
    /** For "error". */
    message?: string;
  };
}

export interface NativeCoreInfo {
  vocabSize: number;
  /** The vocabulary's end-of-generation tokens. */
  eogTokens: number[];
  /** KV cells per sequence as allocated. */
  contextPerSequence: number;
  sequences: number;
  /** Layers llama.cpp put on the GPU. */
  gpuLayers: number;
}

export interface NativeCoreStats {
  steps: number;
  /** Tokens fed to decode (prompt and generated). */
  decodedTokens: number;
  sampledTokens: number;
  /** Total wall time in llama_decode, and in sampling (both across all steps). */
  decodeMs: number;
  sampleMs: number;
  /**
   * After llama_decode returns (on a GPU it only queues the step): waiting for the logits, which is
   * the rest of the GPU's work and the copy of the logits to the host. And the steps' whole wall time.
   */
  waitMs: number;
  stepMs: number;
  lastStepMs: number;
  /**
   * Steps that fed no prompt token (the steady decode rate, apart from prompt reading): how many, the
   * sequences they sampled, their wall time, and its parts: in llama_decode (on a GPU it queues the
   * step; on a CPU it runs it), waiting for the logits, sampling.
   */
  pureDecodeSteps: number;
  pureDecodeSequences: number;
  pureDecodeMs: number;
  pureDecodeLaunchMs: number;
  pureDecodeWaitMs: number;
  pureDecodeSampleMs: number;
  /**
   * Of the steps without prompt tokens, those whose compute graph llama.cpp reused instead of building
   * and allocating it again (it rebuilds whenever the step's tokens, streams or KV length change).
   * Undefined from a core too old to count it.
   */
  pureDecodeReusedGraphs?: number;
  /**
   * Of the steps without prompt tokens, those whose sequences' streams were not consecutive, which
   * llama.cpp splits into several micro-batches (a pass over the weights each); and the sequences the
   * core moved to another stream to close such gaps. Undefined from a core too old to count them.
   */
  pureDecodeSplitSteps?: number;
  streamMoves?: number;
  activeSequences: number;
  /**
   * Sequences the core ended because their logits held NaN or +inf. One is enough to say the
   * model's weights are broken: the engine's health then reports failed.
   */
  nonFiniteLogits: number;
  /**
   * Draws a grammar rejected, by how the allowed set was found: from the core's cache of those sets
   * (keyed by the grammar and the tokens accepted so far, near the start of a generation), or by
   * llama.cpp's check of every token of the vocabulary.
   */
  grammarMaskHits: number;
  grammarFullChecks: number;
  /**
   * Tokens a grammar forced (the only one it allowed, known from that cache): emitted without a draw
   * and decoded in the same step as the token before them (jump-forward).
   */
  grammarForcedTokens: number;
  /**
   * Draws made from the block statistics (one block of the row read on the host), and steps whose
   * statistics could not be used (every row then read whole). Absent from a core older than them.
   */
  blockStatDraws: number;
  blockStatMisses: number;
  /** With blockStats "check": draws from the statistics that the whole-row draw disagreed with. */
  blockStatMismatches: number;
  /**
   * The decode loop caught a C++ exception and stopped: every request it had ended "error", and
   * add() now throws. The process lives on; the engine's health reports failed with `failure`.
   */
  failed: boolean;
  /** What the loop caught (only when failed). */
  failure?: string;
}

export interface NativeCore {
  readonly info: NativeCoreInfo;
  /** Starts a sequence in a free slot; throws (synchronously) on an invalid or busy slot. */
  add(request: NativeSequenceRequest): void;
  /** Asks the loop to stop the slot; its finish ("cancelled") arrives with the next delivery. */
  cancel(slot: number): void;
  stats(): NativeCoreStats;
  /** Stops the loop (running sequences are cancelled) and frees the context and the model. */
  close(): Promise<void>;
  /**
   * Test only: the loop thread throws at its next step, as a bug in it would; the loop then fails
   * (see `NativeCoreStats.failed`). The only way to exercise that path on a real model.
   */
  failForTest(message: string): void;
  /**
   * Test only: the next step's llama_decode returns `code` (not 0) instead of running, as llama.cpp does
   * when its KV cache has no room (1) or it refuses the batch (-1): that step's sequences end "error".
   * The real addon only.
   */
  failNextDecodeForTest?(code: number): void;
}

export interface NativeCoreAddon {
  /** Loads the model and starts the decode loop; `onEvents` gets each delivery on the JS thread. */
  open(options: NativeOpenOptions, onEvents: (events: NativeSlotEvents[]) => void): Promise<NativeCore>;
  /**
   * The exact sampler the loop uses, on caller-given logits: `draws` tokens from one RNG stream
   * seeded by `sampling.seed`, with `previous` as the already-generated tokens for the penalties
   * (each draw is NOT appended to it). For the statistical tests against the reference sampler.
   * A draw is -1 when every token is banned (NaN logits read as banned) and -2 when the weights
   * were not finite (a NaN or +inf logit).
   */
  sampleForTest(
    logits: Float32Array,
    sampling: NativeSampling,
    previous: Int32Array,
    draws: number,
    /** > 1: split the vocabulary across this many threads, as the loop does for few sequences. */
    threads?: number,
    /** The pool's spin before sleeping (NativeOpenOptions.samplerSpinMicros). */
    spinMicros?: number,
  ): Int32Array;
  /**
   * The loop's logprobs (log-softmax of the given logits) for each of `tokens`, with `topN`
   * alternatives per token, flattened as in NativeSlotEvents. For the tests against the reference.
   */
  logprobsForTest(
    logits: Float32Array,
    tokens: Int32Array,
    topN: number,
  ): { logprobs: Float32Array; topTokens: Int32Array; topLogprobs: Float32Array };
  /**
   * Test only: runs a job on a sampler pool of `threads` (>= 2) in which every item a worker thread
   * takes throws; always throws an Error with that exception's message (which reached the calling
   * thread) after checking the pool still runs a clean job. Before the pool caught its workers'
   * exceptions this took the whole process down.
   */
  throwInPoolForTest(threads: number): never;
}

let cached: NativeCoreAddon | null | undefined;

/** The addon, or undefined where it was not built (the caller falls back and says so). */
export function loadNativeCore(): NativeCoreAddon | undefined {
  if (cached !== undefined) return cached ?? undefined;
  if (!existsSync(NATIVE_CORE_PATH)) {
    cached = null;
    return undefined;
  }
  const require = createRequire(import.meta.url);
  cached = require(NATIVE_CORE_PATH) as NativeCoreAddon;
  return cached;
}

/**
 * The libllama that node-llama-cpp's prebuilt binary loaded (CPU, CUDA or Vulkan build): the core
 * must drive the same library, whose backends node-llama-cpp has already registered. Linux only:
 * read from the process's memory map.
 */
export function loadedLibllamaPath(): string | undefined {
  let maps: string;
  try {
    maps = readFileSync("/proc/self/maps", "utf8");
  } catch {
    return undefined;
  }
  return findLibllama(maps);
}

/**
 * The libllama in a /proc/<pid>/maps text: libllama.so, libllama.v0.5.0.so (CPU build),
 * libllama.cuda.v0.5.0.so or libllama.vulkan.v0.5.0.so; never libllama-common.so, also loaded.
 */
export function findLibllama(maps: string): string | undefined {
  return /(\/\S*\/libllama(?:\.[a-z]+)?(?:\.v[\d.]+)?\.so)$/m.exec(maps)?.[1];
}
