/**
 * A GenerationRequest → what the native core's add() takes (native-core.ts NativeSequenceRequest):
 * typed arrays, the logit bias as parallel arrays, and the stop-token and grammar rules of engine.ts
 * applied the way llama-cpp-engine.ts applies them.
 */
import type { GenerationRequest } from "../engine.ts";
import { withEogBans } from "../llama-cpp/grammar-support.ts";
import type { NativeSequenceRequest } from "./native-core.ts";
import { ServerError } from "../../errors/server-error.ts";

/** One request for `slot`, with `reuse` cached prompt tokens and at most `maxTokens` generated. */
export function toNativeRequest(
  req: GenerationRequest,
  slot: number,
  reuse: number,
  maxTokens: number,
  eogTokens: readonly number[],
  vocabSize: number,
): NativeSequenceRequest {
  // Int32Array.from would wrap 2^32 + 5 to 5 and truncate 1.5 to 1: a prompt nobody sent.
  const bad = req.promptTokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize);
  if (bad !== undefined) {
    throw new ServerError(
      "engine_error",
      `Prompt token ${bad} is outside the vocabulary (${vocabSize} token ids).`,
    );
  }
  const grammar = req.grammar;
  // Under a grammar a stop token can only come where the output is complete, so it always ends
  // the generation (engine.ts); otherwise ignore_eos and min_tokens may carry on past it.
  const stopTokens = req.ignoreStopTokens === true && grammar === undefined ? [] : req.stopTokens;
  const bias =
    grammar === undefined
      ? req.sampling.logitBias
      : withEogBans(req.sampling.logitBias, eogTokens, req.stopTokens);
  const { temperature, topP, seed, presencePenalty, frequencyPenalty } = req.sampling;
  return {
    slot,
    tokens: Int32Array.from(req.promptTokens),
    reuse,
    maxTokens,
    stopTokens: Int32Array.from(stopTokens),
    minTokens: grammar === undefined ? (req.minTokens ?? 0) : 0,
    sampling: {
      temperature,
      topP,
      seed,
      presencePenalty,
      frequencyPenalty,
      biasTokens: Int32Array.from(bias.keys()),
      biasValues: Float32Array.from(bias.values()),
    },
    ...(grammar !== undefined ? { grammar: grammar.gbnf } : {}),
    ...(req.logprobs !== undefined ? { logprobs: req.logprobs } : {}),
  };
}
