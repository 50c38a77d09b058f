/**
 * Cumulative counts per model and per profile, kept so that a reader sampling them every second
 * (the dashboard's history) can turn differences into exact rates. The stats window cannot: it
 * holds the last 1,000 requests, a fifth of a second at the 5,000 req/s the collector is built
 * for, so counting its entries would understate any rate above 1,000 req/s.
 *
 * add() is O(1): two map lookups and a few additions per finished request.
 */
import type { RequestRecord } from "./request-record.ts";

export interface Tally {
  /** Finished requests, whatever the outcome (as qps counts them: rejected ones are load too). */
  requests: number;
  /** The server could not serve them (request-record.ts's "failed"). */
  failed: number;
  /** The client's input was wrong (request-record.ts's "rejected"). */
  rejected: number;
  completionTokens: number;
}

export interface TallySnapshot {
  total: Tally;
  byModel: ReadonlyMap<string, Tally>;
  byProfile: ReadonlyMap<string, Tally>;
}

function emptyTally(): Tally {
  return { requests: 0, failed: 0, rejected: 0, completionTokens: 0 };
}

function addTo(tally: Tally, r: RequestRecord): void {
  tally.requests += 1;
  if (r.outcome === "failed") tally.failed += 1;
  else if (r.outcome === "rejected") tally.rejected += 1;
  tally.completionTokens += r.completionTokens;
}

function tallyOf(map: Map<string, Tally>, key: string): Tally {
  let tally = map.get(key);
  if (tally === undefined) {
    tally = emptyTally();
    map.set(key, tally);
  }
  return tally;
}

function copy(map: ReadonlyMap<string, Tally>): Map<string, Tally> {
  return new Map([...map].map(([key, t]) => [key, { ...t }]));
}

export class RequestTallies {
  readonly #total = emptyTally();
  // Keys are resolved model and profile names (request-record.ts): a small, fixed set.
  readonly #byModel = new Map<string, Tally>();
  readonly #byProfile = new Map<string, Tally>();

  add(record: RequestRecord): void {
    addTo(this.#total, record);
    addTo(tallyOf(this.#byModel, record.model), record);
    addTo(tallyOf(this.#byProfile, record.profile), record);
  }

  /** A copy: later requests do not change it. */
  snapshot(): TallySnapshot {
    return { total: { ...this.#total }, byModel: copy(this.#byModel), byProfile: copy(this.#byProfile) };
  }
}
