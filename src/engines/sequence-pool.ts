/**
 * A pool of generation slots (llama.cpp context sequences, or the fake engine's emulated ones) with
 * prefix-aware assignment: a request gets the free slot whose cached tokens share the longest prefix
 * with its prompt, so a repeated system prompt or a multi-turn conversation is evaluated only once.
 * Requests that find no free slot wait in priority order (lower first, then arrival); the engine, not
 * the caller, owns this invariant, so an engine stays correct even if a scheduler over-admits.
 */
import { ServerError } from "../errors/server-error.ts";
import { isAbortReason } from "./generation-limits.ts";
import { pickSlot } from "./slot-placement.ts";

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
  /** Each slot's place in the constructor's list (for compact placement, its stream). */
  readonly #rank = new Map<S, number>();
  /** By rank: when a busy slot was taken; undefined while free (compact placement's map). */
  readonly #takenAt: (number | undefined)[];
  readonly #compactWithin: number | undefined;

  /**
   * `compactWithin`: when set, a free slot whose cached prefix is within this many tokens of the
   * best one counts as just as good, and of those the one that keeps the busy slots together wins
   * (slot-placement.ts; instead of the least recently used). The native engine asks for it: with a
   * KV stream per sequence, llama.cpp splits a step's batch wherever the busy slots' ids are not
   * consecutive, and every split is another pass over the weights; requests that share only a
   * system prompt then fill holes and grow one run, while a long reused history (a multi-turn chat)
   * still wins. One exception keeps caches while the engine has room (a free slot it never used):
   * then a slot that would lose more than `compactWithin` cached tokens (a warmed system prompt, an
   * earlier conversation) is passed over for those that lose fewer. Once every slot has been used,
   * placement looks only at where the slots are and when the busy ones were taken.
   */
  constructor(
    slots: readonly S[],
    tokensOf: (slot: S) => readonly number[],
    options: { compactWithin?: number } = {},
  ) {
    this.#free = [...slots];
    this.#tokensOf = tokensOf;
    slots.forEach((slot, index) => this.#rank.set(slot, index));
    this.#takenAt = slots.map(() => undefined);
    this.#compactWithin = options.compactWithin;
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

  /**
   * acquire() as every engine uses it: undefined when `stop` aborts first (the request ends
   * cancelled and holds nothing), else the slot and how many prompt tokens it may reuse: at most all
   * but the last, which is always evaluated because its logits give the first generated token.
   */
  async lease(
    prompt: readonly number[],
    priority: number,
    stop: AbortSignal,
  ): Promise<{ slot: S; reuse: number } | undefined> {
    if (stop.aborted) return undefined;
    let lease: SlotLease<S>;
    try {
      lease = await this.acquire(prompt, priority, stop);
    } catch (error) {
      if (isAbortReason(error, stop)) return undefined;
      throw error;
    }
    if (stop.aborted) {
      this.release(lease.slot);
      return undefined;
    }
    return { slot: lease.slot, reuse: Math.min(lease.commonPrefix, prompt.length - 1) };
  }

  /** Returns a slot; its cached tokens stay for the next request's prefix reuse. */
  release(slot: S): void {
    if (!this.#busy.delete(slot)) return;
    const rank = this.#rank.get(slot);
    if (rank !== undefined) this.#takenAt[rank] = undefined;
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
    if (this.#compactWithin !== undefined) return this.#takeCompact(prompt, this.#compactWithin);
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

  #takeCompact(prompt: readonly number[], within: number): SlotLease<S> {
    const prefixes = this.#free.map((slot) => commonPrefixLength(this.#tokensOf(slot), prompt));
    const best = Math.max(...prefixes);
    /** Free-list indices of the slots as good as the best (within the margin). */
    const good: number[] = [];
    /** Those of them that would lose at most `within` cached tokens. */
    const keeping: number[] = [];
    let roomLeft = false;
    prefixes.forEach((prefix, index) => {
      if (prefix < best - within) return;
      good.push(index);
      const cached = this.#tokensOf(this.#free[index] as S).length;
      if (cached - prefix <= within) keeping.push(index);
      if (cached === 0) roomLeft = true;
    });
    const candidates = roomLeft && keeping.length > 0 ? keeping : good;
    const byRank = new Map(candidates.map((index) => [this.#rank.get(this.#free[index] as S) ?? -1, index]));
    const chosen = byRank.get(pickSlot([...byRank.keys()], this.#takenAt));
    if (chosen === undefined) throw new Error("SequencePool: the placement picked no candidate");
    const [slot] = this.#free.splice(chosen, 1);
    if (slot === undefined) throw new Error("SequencePool: no free slot to take");
    this.#busy.add(slot);
    const rank = this.#rank.get(slot);
    if (rank !== undefined) this.#takenAt[rank] = this.#clock++;
    return { slot, commonPrefix: prefixes[chosen] ?? 0 };
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
