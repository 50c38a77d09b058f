/**
 * An in-memory map bounded three ways, so it can never grow without limit: at most `maxEntries`,
 * at most `maxBytes` in all (each entry counted at the size `sizeOf` gives; the least recently
 * used goes first), and each entry lives `ttlMs` from when it was stored (reading does not extend
 * it). The stored Responses (response-store.ts) and the response cache (response-cache.ts) are
 * both one of these.
 */

export interface ExpiringLruOptions<V> {
  /** 0 disables storing: every lookup misses. Default: no cap but the bytes. */
  maxEntries?: number;
  /** Total size budget; an entry larger than this alone is not stored. Default: none. */
  maxBytes?: number;
  ttlMs: number;
  /** The size an entry is counted at. */
  sizeOf: (key: string, value: V) => number;
  /** Called for every entry that leaves (replaced, deleted, expired, evicted). */
  onRemove?: (key: string, value: V) => void;
  /** Milliseconds, monotonic or wall; injectable for tests (FakeClockForTest). */
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
  bytes: number;
}

export class ExpiringLru<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  readonly #entries = new Map<string, Entry<V>>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #ttlMs: number;
  readonly #sizeOf: (key: string, value: V) => number;
  readonly #onRemove: ((key: string, value: V) => void) | undefined;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: ExpiringLruOptions<V>) {
    this.#maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    this.#maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#ttlMs = options.ttlMs;
    this.#sizeOf = options.sizeOf;
    this.#onRemove = options.onRemove;
    this.#now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The counted size of what is stored. */
  get bytes(): number {
    return this.#bytes;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Stores `value`; false when it alone exceeds the byte budget (then nothing is kept under `key`). */
  set(key: string, value: V): boolean {
    this.#remove(key);
    if (this.#maxEntries <= 0) return false;
    const bytes = this.#sizeOf(key, value);
    if (bytes > this.#maxBytes) return false;
    this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlMs, bytes });
    this.#bytes += bytes;
    this.#sweepExpired();
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#remove(oldest.value);
    }
    return true;
  }

  /** The live value under `key`, now the most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Removes `key`; true when it held a live (unexpired) value. */
  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#remove(key);
    return entry.expiresAt > this.#now();
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    this.#onRemove?.(key, entry.value);
  }

  /** Expired entries free their memory on the next write, not only when someone asks for them. */
  #sweepExpired(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#remove(key);
    }
  }
}
