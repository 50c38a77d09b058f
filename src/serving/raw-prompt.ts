/**
 * A raw prompt (`/v1/completions`, `/tokenize`): text the client rendered itself, harmony control
 * tokens spelled out, or token ids. The text is split at the control tokens' spellings, as Hugging
 * Face tokenizers (and so vLLM) split at added tokens, and each piece between them is BPE-encoded
 * with the tokenizer's plain `encode`, which stops at the token limit (a huge prompt is refused
 * without encoding all of it: render-request.ts explains why that matters on the HTTP thread).
 */
import { ServerError } from "../errors/server-error.ts";
import {
  getHarmonyTokenizer,
  minTokensFor,
  TokenLimitExceededError,
  type HarmonyTokenizer,
} from "../harmony/tokenizer.ts";
import {
  FIRST_SPECIAL_TOKEN_ID,
  HARMONY_VOCAB_SIZE,
  LAST_ADDED_TOKEN_ID,
} from "../harmony/special-tokens.ts";

/** Every added token's spelling (the harmony markers and the reserved `<|...|>` ones). */
let specials: Map<string, number> | undefined;

function specialSpellings(tokenizer: HarmonyTokenizer): Map<string, number> {
  if (specials !== undefined) return specials;
  specials = new Map();
  for (let id = FIRST_SPECIAL_TOKEN_ID; id <= LAST_ADDED_TOKEN_ID; id++) {
    const text = tokenizer.tokenText(id);
    if (text !== undefined && /^<\|[a-z_0-9]+\|>$/.test(text)) specials.set(text, id);
  }
  return specials;
}

function tooLong(limit: number): ServerError {
  return new ServerError(
    "context_length_exceeded",
    `This model's context is ${limit} tokens per request; the prompt has more. Shorten it.`,
    { param: "prompt" },
  );
}

/** Prompt text → token ids, control tokens recognised; throws context_length_exceeded past `limit`. */
export function encodeRawPrompt(text: string, limit: number): number[] {
  if (minTokensFor(text) > limit) throw tooLong(limit);
  const tokenizer = getHarmonyTokenizer();
  const table = specialSpellings(tokenizer);
  const ids: number[] = [];
  let start = 0;
  const marker = /<\|[a-z_0-9]+\|>/g;
  try {
    for (const match of text.matchAll(marker)) {
      const id = table.get(match[0]);
      if (id === undefined) continue; // not a control token: ordinary text
      const piece = text.slice(start, match.index);
      if (piece !== "") ids.push(...tokenizer.encode(piece, limit - ids.length));
      ids.push(id);
      start = match.index + match[0].length;
      if (ids.length > limit) throw tooLong(limit);
    }
    const tail = text.slice(start);
    if (tail !== "") ids.push(...tokenizer.encode(tail, limit - ids.length));
  } catch (error) {
    if (error instanceof TokenLimitExceededError) throw tooLong(limit);
    throw error;
  }
  if (ids.length > limit) throw tooLong(limit);
  return ids;
}

/** Token ids a client sent: each an integer inside the vocabulary (`param` names the field). */
export function checkTokenIds(tokens: readonly number[], param: string): number[] {
  tokens.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= HARMONY_VOCAB_SIZE) {
      throw new ServerError(
        "invalid_value",
        `${param}[${i}] = ${t} is not a token id (an integer in 0..${HARMONY_VOCAB_SIZE - 1})`,
        { param: `${param}.${i}` },
      );
    }
  });
  return [...tokens];
}
