/**
 * The harmony control tokens of o200k_harmony (shared/design/harmony.md, "Tokens"). Ids are fixed
 * by the tokenizer; tokenizer.test.ts checks every one against tokenizer.json.
 */
export const SPECIAL_TOKENS = {
  startOfText: 199998,
  endOfText: 199999,
  /** Stop: the final answer is complete. Never replayed in a prompt (history uses `end`). */
  return: 200002,
  /** Content type of a tool call follows, e.g. `<|constrain|>json`. */
  constrain: 200003,
  channel: 200005,
  start: 200006,
  /** A message ends. NOT a stop token: stopping here cuts the answer off after the analysis. */
  end: 200007,
  /** Header done, content follows. */
  message: 200008,
  /** Stop: a tool call is complete. */
  call: 200012,
} as const;

export type SpecialTokenName = keyof typeof SPECIAL_TOKENS;

/** Text form of each control token, as it appears in a rendered prompt. */
export const SPECIAL_TOKEN_TEXT: Readonly<Record<SpecialTokenName, string>> = {
  startOfText: "<|startoftext|>",
  endOfText: "<|endoftext|>",
  return: "<|return|>",
  constrain: "<|constrain|>",
  channel: "<|channel|>",
  start: "<|start|>",
  end: "<|end|>",
  message: "<|message|>",
  call: "<|call|>",
};

/**
 * Ids 199998..200018 are the tokenizer's added tokens (the markers above plus reserved ones and
 * `<|endofprompt|>`); ids from 200019 up to the embedding size are padding with no text at all.
 */
export const FIRST_SPECIAL_TOKEN_ID = 199998;
export const LAST_ADDED_TOKEN_ID = 200018;
/** Rows of gpt-oss's embedding matrix: every id a model can sample is below this. */
export const HARMONY_VOCAB_SIZE = 201088;

/** True for added tokens and padding ids: nothing a model emits there is ordinary text. */
export function isSpecialTokenId(id: number): boolean {
  return id >= FIRST_SPECIAL_TOKEN_ID;
}
