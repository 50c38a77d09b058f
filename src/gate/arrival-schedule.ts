/**
 * Open-loop arrivals: the send times are fixed before the run and do not wait for responses, so
 * the rate offered is the rate asked for whatever the server does. (The v4.5.1 gate sent one
 * request after another and called the result QPS: a slow server then "offered" itself less load.)
 *
 * Poisson arrivals draw exponential gaps with mean 1/rate; uniform ones are evenly spaced. The
 * random source is seeded (mulberry32), so one seed gives one schedule: two runs, or two servers
 * under --compare, see the same arrivals.
 */
import type { GateClock } from "./gate-clock.ts";

export type ArrivalProcess = "poisson" | "uniform";

export interface ArrivalPlan {
  /** Requests per second offered. */
  rate: number;
  durationMs: number;
  process: ArrivalProcess;
  seed: number;
}

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Send offsets in ms from the start, ascending, all within [0, durationMs). */
export function arrivalOffsets(plan: ArrivalPlan): number[] {
  if (!(plan.rate > 0)) throw new RangeError(`rate must be > 0, got ${plan.rate}`);
  const meanGapMs = 1000 / plan.rate;
  const offsets: number[] = [];
  if (plan.process === "uniform") {
    for (let t = 0; t < plan.durationMs; t += meanGapMs) offsets.push(t);
    return offsets;
  }
  const random = seededRandom(plan.seed);
  // Exponential gaps by inversion; 1 - u is in (0, 1], so the log is finite.
  for (let t = -Math.log(1 - random()) * meanGapMs; t < plan.durationMs;) {
    offsets.push(t);
    t += -Math.log(1 - random()) * meanGapMs;
  }
  return offsets;
}

export interface OpenLoopRun<T> {
  results: T[];
  /** When the schedule started, on the clock. */
  startedAt: number;
  /** Largest delay between a scheduled send time and the actual one: the client's own honesty. */
  maxSendLagMs: number;
}

/**
 * Fires `send(i)` at each offset without awaiting earlier sends, then waits for all of them.
 * `send` must not throw (it returns a failed result instead).
 */
export async function runOpenLoop<T>(
  offsets: readonly number[],
  send: (index: number) => Promise<T>,
  clock: GateClock,
): Promise<OpenLoopRun<T>> {
  const startedAt = clock.now();
  const pending: Array<Promise<T>> = [];
  let maxSendLagMs = 0;
  for (let i = 0; i < offsets.length; i++) {
    const due = startedAt + (offsets[i] as number);
    await clock.sleepUntil(due);
    maxSendLagMs = Math.max(maxSendLagMs, clock.now() - due);
    pending.push(send(i));
  }
  return { results: await Promise.all(pending), startedAt, maxSendLagMs };
}

/**
 * Closed loop: `concurrency` workers, each sending its next request when its previous one ended,
 * until `count` requests were started or `untilMs` (on the clock) passed.
 */
export async function runClosedLoop<T>(
  concurrency: number,
  limit: { count?: number; untilMs?: number },
  send: (index: number) => Promise<T>,
  clock: GateClock,
): Promise<T[]> {
  const results: T[] = [];
  let started = 0;
  const more = (): boolean =>
    (limit.count === undefined || started < limit.count) &&
    (limit.untilMs === undefined || clock.now() < limit.untilMs);
  const worker = async (): Promise<void> => {
    while (more()) {
      const index = started++;
      results[index] = await send(index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return results.filter((r) => r !== undefined);
}
