/**
 * A bounded window of completed requests: the last `maxSize` entries AND only those finished within
 * the last `maxSeconds` (the tighter of the two wins). Percentiles and rates come from here, so they
 * describe recent behaviour and cost O(maxSize) memory however long the server runs.
 *
 * push() is O(1) (a ring buffer, no sorting, no allocation beyond the entry itself) because it runs
 * on every request; age-based eviction happens when the window is read.
 */

export interface StatsWindowOptions {
  /** Most entries kept (default 1000). */
  maxSize?: number | undefined;
  /** Entries older than this are dropped (default 600 s). */
  maxSeconds?: number | undefined;
  /** Milliseconds clock; injectable for tests. Default Date.now. */
  now?: (() => number) | undefined;
}

export const DEFAULT_WINDOW_SIZE = 1000;
export const DEFAULT_WINDOW_SECONDS = 600;

interface Slot<T> {
  atMs: number;
  item: T;
}

export class StatsWindow<T> {
  readonly maxSize: number;
  readonly maxSeconds: number;
  readonly #now: () => number;
  readonly #slots: (Slot<T> | undefined)[];
  /** Index of the oldest entry. */
  #head = 0;
  #count = 0;

  constructor(options: StatsWindowOptions = {}) {
    this.maxSize = options.maxSize ?? DEFAULT_WINDOW_SIZE;
    this.maxSeconds = options.maxSeconds ?? DEFAULT_WINDOW_SECONDS;
    if (!Number.isInteger(this.maxSize) || this.maxSize < 1) {
      throw new RangeError(`window maxSize must be a positive integer, got ${this.maxSize}`);
    }
    if (!(this.maxSeconds > 0)) throw new RangeError(`window maxSeconds must be > 0, got ${this.maxSeconds}`);
    this.#now = options.now ?? Date.now;
    this.#slots = new Array<Slot<T> | undefined>(this.maxSize);
  }

  /** Adds an entry stamped with the current time, overwriting the oldest when full. */
  push(item: T): void {
    const slot: Slot<T> = { atMs: this.#now(), item };
    if (this.#count < this.maxSize) {
      this.#slots[(this.#head + this.#count) % this.maxSize] = slot;
      this.#count += 1;
    } else {
      this.#slots[this.#head] = slot;
      this.#head = (this.#head + 1) % this.maxSize;
    }
  }

  /** Entries currently in the window, oldest first (expired ones are evicted first). */
  items(): T[] {
    this.#evictExpired();
    const out = new Array<T>(this.#count);
    for (let i = 0; i < this.#count; i += 1) out[i] = this.#slotAt(i).item;
    return out;
  }

  /** Entries pushed at or after `sinceMs` (this window's clock), oldest first: a shorter window within. */
  itemsSince(sinceMs: number): T[] {
    this.#evictExpired();
    let first = 0;
    while (first < this.#count && this.#slotAt(first).atMs < sinceMs) first += 1;
    const out = new Array<T>(this.#count - first);
    for (let i = first; i < this.#count; i += 1) out[i - first] = this.#slotAt(i).item;
    return out;
  }

  /** Number of entries currently in the window. */
  get size(): number {
    this.#evictExpired();
    return this.#count;
  }

  /**
   * The time span, in seconds, that the window's entries stand for: the divisor for per-second
   * rates. While the count limit has not cut anything off, the window holds every request of the
   * last min(maxSeconds, time since `sinceMs`) seconds, so that is the span (at least 1 s, so the
   * first request after start does not read as thousands per second). Once full, it holds the last
   * maxSize requests, which span from the oldest entry to now.
   */
  spanSeconds(sinceMs: number): number {
    this.#evictExpired();
    const nowMs = this.#now();
    if (this.#count === this.maxSize) {
      const oldest = this.#slotAt(0).atMs;
      return Math.max((nowMs - oldest) / 1000, 0.001);
    }
    return Math.max(Math.min(this.maxSeconds, (nowMs - sinceMs) / 1000), 1);
  }

  #slotAt(offset: number): Slot<T> {
    return this.#slots[(this.#head + offset) % this.maxSize] as Slot<T>;
  }

  #evictExpired(): void {
    // Entries are pushed in clock order, so the expired ones are a prefix starting at head.
    const cutoff = this.#now() - this.maxSeconds * 1000;
    while (this.#count > 0 && this.#slotAt(0).atMs < cutoff) {
      this.#slots[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.maxSize;
      this.#count -= 1;
    }
  }
}
