/**
 * Steering for the project's own random-weight models (never for real ones). Under a grammar (a
 * forced tool call, a response schema) their noise takes harmony's shape, but a random model almost
 * never samples `<|end|>`: its reasoning runs to max_tokens and the forced call or the JSON never
 * comes, so no client could finish a conversation with the tiny model. Requests that carry a grammar
 * therefore get a bias toward harmony's structure: `<|channel|>` (the header form that names the
 * channel first), "analysis" (the turn opens with reasoning), `<|end|>` (the reasoning is short),
 * `<|return|>` (a final answer ends), and the tokens that close JSON strings, objects and arrays
 * (`"`, `"}`, `",`, `}`, `]`): inside a JSON string a random model writes until max_tokens.
 * Under tool_choice "auto" such a model answers instead of calling (harmony-grammar.ts,
 * answerInsteadOfCalls), so agent loops end. A bias cannot break the grammar, which masks the
 * vocabulary first; the client's own bias wins token by token.
 */
import type { EngineInfo } from "../engines/engine.ts";
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";

/**
 * Whether an engine samples a random-weight model, the only kind steered. The fake engine is
 * flagged random-weight too, but it plays a script: steering changes nothing there, and answering
 * instead of calling would hide the calls its scripts make.
 */
export function samplesRandomWeights(info: EngineInfo): boolean {
  return info.randomWeights && info.name !== "fake";
}

/** Tokens of the gpt-oss tokenizer (o200k_harmony). */
const TOKEN = {
  analysis: 35644,
  quote: 1,
  quoteBrace: 18583,
  quoteComma: 672,
  brace: 92,
  bracket: 60,
} as const;

export const RANDOM_WEIGHTS_STEER: ReadonlyMap<number, number> = new Map([
  [SPECIAL_TOKENS.channel, 12],
  [TOKEN.analysis, 8],
  // Control tokens are allowed only where the grammar puts them, so a strong bias cannot leak into
  // text; a word token's would (biases near +10 barely move the tiny model's wide logits).
  [SPECIAL_TOKENS.end, 12],
  [SPECIAL_TOKENS.return, 25],
  [TOKEN.quote, 12],
  [TOKEN.quoteBrace, 12],
  [TOKEN.quoteComma, 8],
  [TOKEN.brace, 12],
  [TOKEN.bracket, 8],
]);

/** `bias` with the steering beneath it, when the model has random weights and a grammar applies. */
export function steerRandomWeights(
  bias: ReadonlyMap<number, number>,
  randomWeights: boolean,
  constrained: boolean,
): ReadonlyMap<number, number> {
  if (!randomWeights || !constrained) return bias;
  return new Map([...RANDOM_WEIGHTS_STEER, ...bias]);
}
