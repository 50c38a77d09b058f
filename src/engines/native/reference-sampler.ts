/**
 * The reference for the native sampler (native/src/core.cpp): the exact probability with which one
 * draw returns each token, written to be read rather than to be fast. The statistical tests
 * (sampler.statistics.test.ts) check the native draws against it.
 *
 * OpenAI semantics, over the whole vocabulary with no top-k truncation, in this order:
 * 1. penalties over the tokens generated so far (OpenAI "Parameter details", frequency and presence
 *    penalties): logit[t] -= frequencyPenalty * count(t) + presencePenalty * (count(t) > 0);
 * 2. logit_bias is added; a bias of -100 or less bans the token (OpenAI: "-100 should result in a
 *    ban"), which here is exact: probability 0;
 * 3. temperature 0 is greedy: all the mass on the highest logit, the lowest id among equals;
 * 4. otherwise p_i is proportional to exp((logit_i - max) / temperature);
 * 5. top_p < 1 keeps the smallest prefix of the tokens in descending logit order (lower id first
 *    among equals) whose cumulative probability reaches top_p, at least one token, renormalised.
 *
 * Everything is computed in float64, so the result is the exact distribution up to rounding.
 */
import type { NativeSampling } from "./native-core.ts";

/** A bias at or below this bans the token (OpenAI's documented "-100 ... ban"). */
export const BAN_BIAS = -100;

/** Steps 1 and 2: the logits after penalties and logit_bias; banned tokens are -Infinity. */
export function adjustLogits(
  logits: ArrayLike<number>,
  sampling: NativeSampling,
  previous: ArrayLike<number>,
): Float64Array {
  const adjusted = Float64Array.from(logits);

  const counts = new Map<number, number>();
  for (let i = 0; i < previous.length; i++) {
    const token = previous[i]!;
    counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  for (const [token, count] of counts) {
    adjusted[token]! -= sampling.frequencyPenalty * count + sampling.presencePenalty;
  }

  for (let i = 0; i < sampling.biasTokens.length; i++) {
    const token = sampling.biasTokens[i]!;
    const bias = sampling.biasValues[i]!;
    adjusted[token] = bias <= BAN_BIAS ? -Infinity : adjusted[token]! + bias;
  }
  return adjusted;
}

/** The probability of each token for one draw (sums to 1; zero outside the nucleus and for bans). */
export function referenceProbabilities(
  logits: ArrayLike<number>,
  sampling: NativeSampling,
  previous: ArrayLike<number>,
): Float64Array {
  const adjusted = adjustLogits(logits, sampling, previous);
  const vocab = adjusted.length;

  // The highest logit, the lowest id among equals (strict > keeps the first).
  let best = 0;
  for (let i = 1; i < vocab; i++) if (adjusted[i]! > adjusted[best]!) best = i;
  if (adjusted[best] === -Infinity) throw new Error("every token is banned: nothing to sample");

  const probabilities = new Float64Array(vocab);
  if (sampling.temperature === 0) {
    probabilities[best] = 1;
    return probabilities;
  }

  const max = adjusted[best]!;
  let total = 0;
  for (let i = 0; i < vocab; i++) {
    probabilities[i] = Math.exp((adjusted[i]! - max) / sampling.temperature);
    total += probabilities[i]!;
  }
  for (let i = 0; i < vocab; i++) probabilities[i]! /= total;
  if (sampling.topP >= 1) return probabilities;

  // The nucleus is a prefix of this order: descending logit, lower id first among equals.
  const order = Array.from({ length: vocab }, (_, i) => i).sort(
    (a, b) => adjusted[b]! - adjusted[a]! || a - b,
  );

  // Walk down the order until the kept mass reaches top_p; if rounding keeps the sum just under a
  // top_p close to 1, every token with any mass stays.
  let kept = 0;
  let keep = 0;
  while (keep < vocab && (keep === 0 || kept < sampling.topP)) {
    const token = order[keep]!;
    if (probabilities[token] === 0) break;
    kept += probabilities[token]!;
    keep++;
  }
  for (let rank = keep; rank < vocab; rank++) probabilities[order[rank]!] = 0;
  for (let rank = 0; rank < keep; rank++) probabilities[order[rank]!]! /= kept;
  return probabilities;
}

/**
 * The reference for the core's logprobs (native/src/sampler.cpp token_logprobs): the log-softmax of
 * the RAW logits in float64, before penalties, bias, temperature and top_p (OpenAI's logprobs are
 * the model's, whatever the sampling settings; vLLM's default raw_logprobs).
 */
export function referenceLogSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (x) => x - lse);
}

/** The `n` most likely tokens of `logits`: logit descending, lower id first among equals. */
export function referenceTopTokens(logits: ArrayLike<number>, n: number): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  return ids.slice(0, n);
}
