/**
 * OpenAI `stop` strings over streamed final-channel text. Text that could still be the start of a
 * stop string is held back until it can't, so a stop string is never streamed to the client, even
 * when it spans several deltas.
 */
export class StopStringMatcher {
  readonly #stops: readonly string[];
  readonly #holdBack: number;
  #pending = "";
  #stopped = false;
  #matched: string | undefined;

  constructor(stops: readonly string[]) {
    this.#stops = stops;
    this.#holdBack = stops.reduce((max, s) => Math.max(max, s.length - 1), 0);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The stop string that matched (the earliest in the text), once one has. */
  get matched(): string | undefined {
    return this.#matched;
  }

  /** Feeds a delta; returns the text that is safe to emit now, and whether a stop string matched. */
  push(text: string): { emit: string; stopped: boolean } {
    if (this.#stopped) return { emit: "", stopped: true };
    if (this.#stops.length === 0) return { emit: text, stopped: false };
    const buffer = this.#pending + text;
    let cut = -1;
    for (const stop of this.#stops) {
      const at = buffer.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) {
        cut = at;
        this.#matched = stop;
      }
    }
    if (cut !== -1) {
      this.#stopped = true;
      this.#pending = "";
      return { emit: buffer.slice(0, cut), stopped: true };
    }
    const keep = this.#partialStopSuffix(buffer);
    this.#pending = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** Length of the longest end of `buffer` that is the start of some stop string. */
  #partialStopSuffix(buffer: string): number {
    for (let len = Math.min(this.#holdBack, buffer.length); len > 0; len--) {
      const tail = buffer.slice(buffer.length - len);
      if (this.#stops.some((s) => s.startsWith(tail))) return len;
    }
    return 0;
  }

  /** At the end of generation, what was held back is emitted. */
  flush(): string {
    const rest = this.#stopped ? "" : this.#pending;
    this.#pending = "";
    return rest;
  }
}
