/**
 * A step-by-step replay of closed-loop levels over a slot pool, with no model: requests are admitted a
 * few a step, each holds its slot for its answer's steps, and every step's busy slots are counted in runs
 * of consecutive slots (with a KV stream per sequence, llama.cpp makes a micro-batch, a pass over the
 * weights, of each run). Used by `npm run bench:placement` and by src/engines/slot-placement.test.ts.
 */
import { SequencePool } from "../src/engines/sequence-pool.ts";

export interface Level {
  streams: number;
  requests: number;
}

/** Places sequences on slots 0..n-1; `cached[slot]` is what the slot's cache keeps. */
export interface Placer {
  take(prompt: readonly number[]): Promise<number>;
  release(slot: number): void;
}

export interface ReplayOptions {
  slots: number;
  admitPerStep: number;
  /** Steps a request generates for (it reads its prompt in one more). */
  answer: () => number;
  /** A new request's prompt, and what its slot caches once it ends. */
  prompt: () => number[];
  cacheAfter: () => number[];
}

export interface LevelCounts {
  steps: number;
  /** Steps with more than one run of busy slots: all, while refilling (after the level's first full step, while requests are still admitted), and while draining (after the last admission). */
  split: number;
  splitRefilling: number;
  splitDraining: number;
  /** Runs summed over the steps: the passes over the weights. */
  passes: number;
}

/** The native engine's pool (sequence-pool.ts with compact placement). */
export function poolPlacer(compactWithin: number): (cached: number[][]) => Placer {
  return (cached) => {
    const slots = cached.map((_, slot) => slot);
    const pool = new SequencePool(slots, (slot) => cached[slot] ?? [], { compactWithin });
    const never = new AbortController().signal;
    return {
      take: async (prompt) => (await pool.acquire(prompt, 0, never)).slot,
      release: (slot) => pool.release(slot),
    };
  };
}

/** Runs of consecutive slots among the busy ones. */
export function runsOf(busy: readonly number[]): number {
  const sorted = [...busy].sort((a, b) => a - b);
  return sorted.filter((slot, i) => i === 0 || sorted[i - 1] !== slot - 1).length;
}

/** The levels one after another on one set of slots (so a level finds the caches the last left). */
export async function replayLevels(
  levels: readonly Level[],
  makePlacer: (cached: number[][]) => Placer,
  options: ReplayOptions,
): Promise<LevelCounts[]> {
  const cached: number[][] = Array.from({ length: options.slots }, () => []);
  const placer = makePlacer(cached);
  const results: LevelCounts[] = [];
  for (const { streams, requests } of levels) {
    const live: { slot: number; left: number }[] = [];
    const counts: LevelCounts = { steps: 0, split: 0, splitRefilling: 0, splitDraining: 0, passes: 0 };
    let started = 0;
    let full = false;
    while (started < requests || live.length > 0) {
      for (let n = 0; n < options.admitPerStep && live.length < streams && started < requests; n++) {
        live.push({ slot: await placer.take(options.prompt()), left: 1 + options.answer() });
        started++;
      }
      full ||= live.length === streams;
      const runs = runsOf(live.map((run) => run.slot));
      counts.steps++;
      counts.passes += Math.max(1, runs);
      if (runs > 1) {
        counts.split++;
        if (started === requests) counts.splitDraining++;
        else if (full) counts.splitRefilling++;
      }
      for (const run of live) run.left--;
      for (const run of live.filter((r) => r.left === 0)) {
        cached[run.slot] = options.cacheAfter();
        placer.release(run.slot);
        live.splice(live.indexOf(run), 1);
      }
    }
    results.push(counts);
  }
  return results;
}
