/**
 * One generation on a native core slot, from `add()` to the core's finish for it: the queue of
 * deliveries its stream has not read yet, and every token the core sampled, which the stream may
 * not all read (it ends at once on cancel) but the slot's cache holds all the same.
 */
import type { NativeSlotEvents } from "./native-core.ts";

export class SlotRun {
  readonly slot: number;
  /** The core's finish for this run has arrived: the slot is free natively. */
  finished = false;
  cancelRequested = false;
  readonly #prompt: readonly number[];
  readonly #sampled: number[] = [];
  readonly #queue: NativeSlotEvents[] = [];
  #wake: (() => void) | undefined;
  #detached = false;

  constructor(slot: number, prompt: readonly number[]) {
    this.slot = slot;
    this.#prompt = prompt;
  }

  receive(event: NativeSlotEvents): void {
    for (const token of event.tokens) this.#sampled.push(token);
    if (event.finish !== undefined) this.finished = true;
    // A stream that has ended reads nothing more; the tokens above still count for the cache.
    if (!this.#detached) this.#queue.push(event);
    this.interrupt();
  }

  /** The oldest delivery not read yet. */
  take(): NativeSlotEvents | undefined {
    return this.#queue.shift();
  }

  /** Resolves at the next delivery or interrupt(). */
  arrival(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  /** Wakes a stream waiting in arrival() (to notice an abort). */
  interrupt(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The stream has ended: later deliveries only update the bookkeeping. */
  detach(): void {
    this.#detached = true;
    this.#queue.length = 0;
  }

  /** The prompt and every sampled token: what the slot's cache holds, up to the finish's kvLength. */
  cachedTokens(): number[] {
    return [...this.#prompt, ...this.#sampled];
  }

  lastToken(): number | undefined {
    return this.#sampled.at(-1);
  }
}
