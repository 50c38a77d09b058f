/**
 * A pool of generation slots (llama.cpp context sequences, or the fake engine's emulated ones) with
 * prefix-aware assignment: a request gets the free slot whose cached tokens share the longest prefix
 * with its prompt, so a repeated system prompt or a multi-turn conversation is evaluated only once.
 * Requests that find no free slot wait in priority order (lower first, then arrival); the engine, not
 * the caller, owns this invariant, so an engine stays correct even if a scheduler over-admits.
 */
import { ServerError } from "../errors/server-error.ts";

export interface SlotLease<S> {
  slot: S;
  /** Tokens at the start of the prompt that the slot already holds. */
  commonPrefix: number;
}

interface Waiter<S> {
  prompt: readonly number[];
  priority: number;
  arrival: number;
  resolve: (lease: SlotLease<S>) => void;
  reject: (error: Error) => void;
}

export class SequencePool<S> {
  readonly #free: S[];
  readonly #busy = new Set<S>();
  readonly #tokensOf: (slot: S) => readonly number[];
  readonly #waiters: Waiter<S>[] = [];
  /** When each slot was last released: ties go to the least recently used, keeping fresh caches. */
  readonly #releasedAt = new Map<S, number>();
  #clock = 0;
  #closed = false;

  constructor(slots: readonly S[], tokensOf: (slot: S) => readonly number[]) {
    this.#free = [...slots];
    this.#tokensOf = tokensOf;
  }

  get active(): number {
    return this.#busy.size;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a slot, or rejects with the signal's reason (as an Error) if it aborts first. */
  acquire(prompt: readonly number[], priority: number, signal: AbortSignal): Promise<SlotLease<S>> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.#free.length > 0 && this.#waiters.length === 0) return Promise.resolve(this.#take(prompt));
    return new Promise<SlotLease<S>>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(abortError(signal));
      };
      const waiter: Waiter<S> = {
        prompt,
        priority,
        arrival: this.#clock++,
        resolve: (lease) => {
          signal.removeEventListener("abort", onAbort);
          resolve(lease);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#waiters.sort((a, b) => a.priority - b.priority || a.arrival - b.arrival);
    });
  }

  /** Returns a slot; its cached tokens stay for the next request's prefix reuse. */
  release(slot: S): void {
    if (!this.#busy.delete(slot)) return;
    this.#releasedAt.set(slot, this.#clock++);
    this.#free.push(slot);
    const next = this.#waiters.shift();
    if (next !== undefined) next.resolve(this.#take(next.prompt));
  }

  /** Rejects every waiter; later acquires fail. Busy slots are released by their holders. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closedError());
  }

  #take(prompt: readonly number[]): SlotLease<S> {
    let bestIndex = 0;
    let bestPrefix = -1;
    let bestReleasedAt = Infinity;
    this.#free.forEach((slot, index) => {
      const prefix = commonPrefixLength(this.#tokensOf(slot), prompt);
      const releasedAt = this.#releasedAt.get(slot) ?? -1;
      if (prefix > bestPrefix || (prefix === bestPrefix && releasedAt < bestReleasedAt)) {
        bestIndex = index;
        bestPrefix = prefix;
        bestReleasedAt = releasedAt;
      }
    });
    const [slot] = this.#free.splice(bestIndex, 1);
    if (slot === undefined) throw new Error("SequencePool: no free slot to take");
    this.#busy.add(slot);
    return { slot, commonPrefix: Math.max(0, bestPrefix) };
  }
}

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const limit = Math.min(a.length, b.length);
  let i = 0;
  while (i < limit && a[i] === b[i]) i++;
  return i;
}

/** The signal's reason when it is an Error (as AbortController.abort() makes), else one wrapping it. */
function abortError(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const error = new Error("The request was aborted.", { cause: signal.reason });
  error.name = "AbortError";
  return error;
}

function closedError(): ServerError {
  return new ServerError("shutting_down", "The engine is closed.");
}
