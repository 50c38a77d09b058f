/**
 * Token ids llama-server's stream leaves out, put back. While the generated text ends inside a UTF-8
 * character (a token that holds the first bytes of an emoji, say), llama-server sends nothing; the
 * chunk that completes the character carries the text of every token since but the id of the last
 * one alone (tools/server server-context.cpp, process_token: `incomplete` skips send_partial_response,
 * and a partial's `tokens` is `{ tkn.tok }`). The ids of the others are not on the wire at all.
 *
 * Their text is: the chunk's `content`. Encoding it with the o200k_harmony tokenizer gives ids that
 * spell exactly that text, so the harmony parser reads what the model wrote; they are one encoding of
 * it, not necessarily the ids the model sampled (usage keeps llama-server's own count). llama-server
 * spells <|start|>, <|channel|>, <|message|>, <|constrain|> and <|end|> out in `content` (llama.cpp
 * renders them as text for gpt-oss), so the encoding recognises control-token spellings.
 */
import { getHarmonyTokenizer } from "../../harmony/tokenizer.ts";

/** The ids for a chunk that ends a gap: its text encoded, or its own ids when it has no text. */
export function fillGap(ids: readonly number[], content: string): number[] {
  if (content === "") return [...ids];
  return getHarmonyTokenizer().encodeWithSpecials(content);
}
