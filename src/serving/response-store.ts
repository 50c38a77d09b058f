/**
 * Stored responses (`store: true`): what GET /v1/responses/{id} returns and what
 * `previous_response_id` continues from. In memory, bounded two ways so it can never grow without
 * limit: at most `maxEntries` (the least recently used goes first) and each entry lives `ttlMs`
 * from when it was stored. A server restart forgets everything, as documented.
 */
import type { InputItemWire, ResponseWire } from "../protocol/responses.ts";

export interface StoredResponse {
  response: ResponseWire;
  /** The whole conversation through this response: history, input items, then its output items. */
  conversation: readonly InputItemWire[];
}

export interface ResponseStoreOptions {
  /** 0 disables storing: every lookup misses. */
  maxEntries: number;
  ttlMs: number;
  /** Milliseconds, monotonic or wall; injectable for tests (FakeClockForTest). */
  now?: () => number;
}

interface Entry {
  value: StoredResponse;
  expiresAt: number;
}

export class ResponseStore {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: ResponseStoreOptions) {
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#entries.size;
  }

  set(id: string, value: StoredResponse): void {
    if (this.#maxEntries <= 0) return;
    this.#entries.delete(id);
    this.#entries.set(id, { value, expiresAt: this.#now() + this.#ttlMs });
    this.#sweepExpired();
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  get(id: string): StoredResponse | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(id);
      return undefined;
    }
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.value;
  }

  delete(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#entries.delete(id);
    return entry.expiresAt > this.#now();
  }

  /** Expired entries free their memory on the next write, not only when someone asks for them. */
  #sweepExpired(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(id);
    }
  }
}
