/**
 * Engine logprobs (engine.ts TokenLogprob: ids and numbers) → OpenAI's wire forms: Chat's and
 * Responses' `{token, logprob, bytes, top_logprobs}` and legacy Completions' parallel arrays.
 *
 * A token's string is its text. A byte-level token may hold part of a UTF-8 character; OpenAI then
 * writes `bytes:\xe2\x80` as the string, and `bytes` always carries the raw bytes, so a client
 * joining `bytes` gets the exact text.
 */
import type { TokenLogprob } from "../engines/engine.ts";
import { getHarmonyTokenizer } from "../harmony/tokenizer.ts";
import type { TokenLogprobWire, TopLogprobWire } from "../protocol/chat.ts";

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The token's text, or `bytes:\xNN...` when its bytes are not whole UTF-8 characters. */
export function tokenString(id: number): string {
  const bytes = getHarmonyTokenizer().tokenBytes(id);
  try {
    return strict.decode(bytes);
  } catch {
    return `bytes:${Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}`;
  }
}

function alternative(token: number, logprob: number): TopLogprobWire {
  return { token: tokenString(token), logprob, bytes: Array.from(getHarmonyTokenizer().tokenBytes(token)) };
}

/** One generated token as Chat's `logprobs.content[]` entry (Responses' output_text logprobs too). */
export function toTokenLogprobWire(token: number, entry: TokenLogprob): TokenLogprobWire {
  return {
    ...alternative(token, entry.logprob),
    top_logprobs: entry.top.map((t) => alternative(t.token, t.logprob)),
  };
}
