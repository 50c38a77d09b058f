/**
 * OpenAI sampling semantics → node-llama-cpp's `SequenceEvaluateOptions`, every field set
 * explicitly: node-llama-cpp's own defaults (temperature 0, topK 40, topP 0.95, seed = the current
 * second) are not OpenAI's and would silently change outputs.
 *
 * The native sampler chain (node-llama-cpp 3.22.1, llama/addon/AddonSampler.cpp) is
 * logit bias → penalties → (greedy | top-k → top-p → min-p → temperature → dist(seed)).
 */
import { randomInt } from "node:crypto";
import { TokenBias, type LlamaModel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import type { SamplingParams } from "../engine.ts";

export interface SamplerContext {
  model: LlamaModel;
  /** Tokens generated so far in this request, grown by the caller: the penalties' history. */
  generated: readonly number[];
  /** The most tokens the request can generate: sizes the penalties' history window. */
  maxGenerated: number;
}

/** The bias that bans a token: OpenAI says -100 "should result in a ban". */
const BAN_BIAS = -100;

export function toEvaluateOptions(
  sampling: SamplingParams,
  context: SamplerContext,
): SequenceEvaluateOptions {
  const greedy = sampling.temperature <= 0;
  const options: SequenceEvaluateOptions = {
    // 0 selects llama.cpp's greedy sampler, which skips top-k/top-p entirely (OpenAI: temperature 0
    // is argmax). Bias and penalties still apply before it.
    temperature: greedy ? 0 : sampling.temperature,
    // topK 0 = the full vocabulary, which is exactly OpenAI's semantics (it has no top-k). It costs:
    // llama.cpp sorts all 201,088 candidates per sequence per step on the CPU (shared/perf/anchors.md:
    // ~5x slower than top-40 on an H100). The GPU-sampling issue is where this gets optimised.
    topK: 0,
    // top-p 1 is a no-op in llama.cpp (it returns early), as in OpenAI.
    topP: sampling.topP,
    minP: 0,
    // A fixed seed makes the dist sampler reproducible; the sampler is created per request, so
    // requests with the same seed and prompt sample the same tokens.
    seed: sampling.seed ?? randomInt(0, 0xffff_ffff),
    // The engine decides what a stop token is; llama.cpp's end-of-generation tokens (<|return|>,
    // <|call|>) must come back to us instead of silently ending the stream.
    yieldEogToken: true,
  };
  const bias = toTokenBias(sampling.logitBias, context.model);
  if (bias !== undefined) options.tokenBias = bias;
  if (sampling.presencePenalty !== 0 || sampling.frequencyPenalty !== 0) {
    // llama.cpp's penalties sampler subtracts `count * frequency + (count > 0) * presence` from the
    // logit of every token in its history: OpenAI's formula exactly. The multiplicative repeat
    // penalty stays at 1 (off), and the history is this request's generated tokens only, as OpenAI
    // applies penalties to "the text so far" of the completion.
    options.repeatPenalty = {
      punishTokens: () => context.generated as Token[],
      // Fixed window (the whole completion) so the native sampler is built once per request rather
      // than rebuilt whenever the history grows.
      maxPunishTokens: Math.max(1, context.maxGenerated),
      penalty: 1,
      frequencyPenalty: sampling.frequencyPenalty,
      presencePenalty: sampling.presencePenalty,
    };
  }
  return options;
}

/**
 * OpenAI's logit_bias is added to the logit; so is llama.cpp's logit-bias sampler, so values pass
 * through, except -100, which becomes -Infinity (a true ban).
 *
 * `TokenBias.set()` silently skips end-of-generation tokens, but biasing those is exactly what a
 * client may ask (e.g. ban <|return|>), so the bias map is written directly. It is an internal of
 * node-llama-cpp 3.22.1 (`_biases: Map<token, logit>`, read by the evaluator as is); if it is ever
 * missing, `set()` is used and only non-EOG tokens get their bias.
 */
export function toTokenBias(
  logitBias: ReadonlyMap<number, number>,
  model: LlamaModel,
): TokenBias | undefined {
  if (logitBias.size === 0) return undefined;
  const bias = new TokenBias(model.tokenizer);
  const internal = (bias as unknown as { _biases?: unknown })._biases;
  for (const [token, value] of logitBias) {
    const logit = value <= BAN_BIAS ? -Infinity : value;
    if (internal instanceof Map) internal.set(token, logit);
    else bias.set(token as Token, { logit });
  }
  return bias;
}
