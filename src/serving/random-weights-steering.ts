/**
 * Steering for the project's own random-weight models (never for real ones). Under a grammar (a
 * forced tool call, a response schema) their noise takes harmony's shape, but a random model almost
 * never samples `<|end|>`: its reasoning runs to max_tokens and the forced call or the JSON never
 * comes, so no client could finish a conversation with the tiny model. Requests that carry a grammar
 * therefore get a bias toward harmony's structure tokens: `<|channel|>` (the header form that names
 * the channel first), "analysis" (the turn opens with reasoning) and `<|end|>` (the reasoning is
 * short), `<|return|>` (a final answer in free text ends), and toward the tokens that close JSON strings, objects and arrays (`"`, `"}`, `",`, `}`,
 * `]`): a random model inside a JSON string writes until max_tokens otherwise, and the call is cut.
 * A bias cannot break the grammar, which masks the vocabulary first; the client's own bias wins
 * token by token. The harmony values are those test/grammar-real-engine.test.ts steers with by hand.
 */
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";

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
  [SPECIAL_TOKENS.end, 10],
  [SPECIAL_TOKENS.return, 8],
  [TOKEN.quote, 6],
  [TOKEN.quoteBrace, 6],
  [TOKEN.quoteComma, 4],
  [TOKEN.brace, 6],
  [TOKEN.bracket, 4],
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
