/**
 * Stored responses (`store: true`): what GET /v1/responses/{id} returns and what
 * `previous_response_id` continues from. In memory, bounded three ways so it can never grow
 * without limit (expiring-lru.ts): at most `maxEntries`, at most `maxBytes` in all (the least
 * recently used goes first), and each entry lives `ttlMs` from when it was stored. A server
 * restart forgets everything, as documented.
 *
 * An entry's size is the JSON length of its response and of its whole conversation. Turns of one
 * chain share their earlier items in memory, so this counts them more than once: an over-estimate
 * on purpose, since an entry whose predecessors were evicted still holds all of their items.
 */
import type { InputItemWire, ResponseWire } from "../protocol/responses.ts";
import { ExpiringLru } from "./expiring-lru.ts";
import { historyItem } from "./stored-history.ts";

export interface StoredResponse {
  response: ResponseWire;
  /** The whole conversation through this response: history, input items, then its output items. */
  conversation: readonly InputItemWire[];
  /** This response's own input items with their ids (GET /v1/responses/{id}/input_items). */
  input?: readonly ListedInputItem[];
}

/** An input item as GET …/input_items lists it: its history form plus an id. */
export type ListedInputItem = InputItemWire & { id: string };

export interface ResponseStoreOptions {
  /** 0 disables storing: every lookup misses. */
  maxEntries: number;
  /** Total size budget (see above); an entry larger than this alone is not stored. Default: none. */
  maxBytes?: number;
  ttlMs: number;
  /** Milliseconds, monotonic or wall; injectable for tests (FakeClockForTest). */
  now?: () => number;
}

/** The size an entry is counted at (JSON length: about its footprint as strings). */
export function storedBytes(value: StoredResponse): number {
  const input = value.input === undefined ? 0 : JSON.stringify(value.input).length;
  return JSON.stringify(value.response).length + JSON.stringify(value.conversation).length + input;
}

export class ResponseStore {
  readonly #entries: ExpiringLru<StoredResponse>;
  /** Output item id → the id of the response that produced it (`item_reference` lookups). */
  readonly #items = new Map<string, string>();

  constructor(options: ResponseStoreOptions) {
    this.#entries = new ExpiringLru<StoredResponse>({
      maxEntries: options.maxEntries,
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ttlMs: options.ttlMs,
      sizeOf: (_id, value) => storedBytes(value),
      onRemove: (id, value) => {
        for (const item of outputOf(value)) {
          if (this.#items.get(item.id) === id) this.#items.delete(item.id);
        }
      },
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The counted size of what is stored. */
  get bytes(): number {
    return this.#entries.bytes;
  }

  /** Stores `value`; false when it alone exceeds the byte budget (then nothing is kept). */
  set(id: string, value: StoredResponse): boolean {
    if (!this.#entries.set(id, value)) return false;
    for (const item of outputOf(value)) this.#items.set(item.id, id);
    return true;
  }

  get(id: string): StoredResponse | undefined {
    return this.#entries.get(id);
  }

  /**
   * An output item of a stored response, by its id, in the form later turns render; undefined when
   * its response is not (or no longer) stored.
   */
  item(itemId: string): InputItemWire | undefined {
    const responseId = this.#items.get(itemId);
    if (responseId === undefined) return undefined;
    const found = outputOf(this.get(responseId)).find((item) => item.id === itemId);
    return found === undefined ? undefined : historyItem(found);
  }

  delete(id: string): boolean {
    return this.#entries.delete(id);
  }
}

/** The output items of an entry (none for an entry without a response body, as tests build them). */
function outputOf(value: StoredResponse | undefined): ResponseWire["output"] {
  const output: ResponseWire["output"] | undefined = value?.response.output;
  return output ?? [];
}
