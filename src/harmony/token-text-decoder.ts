/**
 * Token ids → text, one token at a time. A character may span tokens (emoji, CJK, Hangul are often
 * split across two or three byte-level tokens), so decoding each token alone would emit U+FFFD
 * halves; a streaming TextDecoder holds the incomplete bytes until the character is whole.
 * Cost per token: one table lookup and one decode of a few bytes.
 */
export class TokenTextDecoder {
  readonly #bytesOf: (id: number) => Uint8Array;
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #pending = false;

  /** `bytesOf` is normally `HarmonyTokenizer.tokenBytes` (see `HarmonyTokenizer.createTextDecoder`). */
  constructor(bytesOf: (id: number) => Uint8Array) {
    this.#bytesOf = bytesOf;
  }

  /** The text completed by this token; "" while a character is still incomplete. */
  push(id: number): string {
    const bytes = this.#bytesOf(id);
    if (bytes.length === 0) return "";
    this.#pending = true;
    return this.#decoder.decode(bytes, { stream: true });
  }

  /**
   * Ends the current run of text: incomplete trailing bytes come out as U+FFFD (they can no longer
   * be completed, e.g. a control token arrived mid-character). The decoder is reusable afterwards.
   */
  flush(): string {
    if (!this.#pending) return "";
    this.#pending = false;
    return this.#decoder.decode();
  }
}
