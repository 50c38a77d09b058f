import { describe, expect, it } from "vitest";
import { SequencePool } from "./sequence-pool.ts";
import { pickSlot } from "./slot-placement.ts";

/** takenAt for `size` slots with the given busy ones (taken in the listed order). */
function busyMap(size: number, ...busy: number[]): (number | undefined)[] {
  const takenAt: (number | undefined)[] = new Array(size).fill(undefined);
  busy.forEach((slot, order) => (takenAt[slot] = order));
  return takenAt;
}

const all = (size: number): number[] => Array.from({ length: size }, (_, slot) => slot);

describe("pickSlot", () => {
  it("fills the smallest gap between busy slots first", () => {
    // busy 0, 2, 3, 7: gaps [1] and [4..6]
    expect(pickSlot([1, 4, 6, 8, 9], busyMap(10, 0, 2, 3, 7))).toBe(1);
    expect(pickSlot([4, 6, 8, 9], busyMap(10, 0, 2, 3, 7))).toBe(4);
  });

  it("grows a run at the end whose busy neighbour was taken last", () => {
    // run 4..6 taken 6, 5, 4 in that order: the young end is 4, so 3 (not 7)
    expect(
      pickSlot(
        all(10).filter((s) => s < 4 || s > 6),
        busyMap(10, 6, 5, 4),
      ),
    ).toBe(3);
    expect(
      pickSlot(
        all(10).filter((s) => s < 4 || s > 6),
        busyMap(10, 4, 5, 6),
      ),
    ).toBe(7);
  });

  it("counts a slot beside the pool's edge as extending a run, not as filling a gap", () => {
    // 1 sits between the edge and busy 2; 5 between busy 4 and busy 6: only 5 joins two runs
    expect(pickSlot([1, 5], busyMap(8, 2, 4, 6))).toBe(5);
    expect(pickSlot([0, 5], busyMap(8, 1, 4, 6))).toBe(5);
  });

  it("starts a run at the wall end of the longest free stretch, else at the lowest", () => {
    // busy 2: stretches 0..1 and 3..9; 0 and 9 are both wall ends, 9's stretch is the longer
    expect(pickSlot([0, 9], busyMap(10, 2))).toBe(9);
    expect(pickSlot([0, 9], busyMap(10, 7))).toBe(0);
    expect(pickSlot(all(8), busyMap(8))).toBe(0);
    // candidates only in 3..7 (as when 0..2 hold caches to keep): 7 can grow through 0..7
    expect(pickSlot([3, 4, 5, 6, 7], busyMap(8))).toBe(7);
    expect(pickSlot([3, 4, 5], busyMap(8))).toBe(3);
  });
});

/**
 * The GPU benchmark's pattern in small: closed-loop levels, each request generating for the same
 * number of steps, a few admitted a step. Counts, for each level, the steps whose busy slots form
 * more than one run of consecutive slots (the steps llama.cpp would split): while it refills (after
 * its first full step, while requests are still admitted) and while it drains (after the last).
 */
async function splitStepsOfLevels(
  levels: readonly { streams: number; requests: number }[],
): Promise<{ refilling: number; draining: number }[]> {
  const size = 16;
  const steps = 6;
  const admitPerStep = 2;
  const slots = Array.from({ length: size }, (_, slot) => ({ slot, tokens: [] as number[] }));
  const pool = new SequencePool(slots, (s) => s.tokens, { compactWithin: 4 });
  const never = new AbortController().signal;
  let prompt = 100;
  const split: { refilling: number; draining: number }[] = [];
  for (const { streams, requests } of levels) {
    const live: { slot: (typeof slots)[number]; left: number }[] = [];
    let started = 0;
    let full = false;
    const counts = { refilling: 0, draining: 0 };
    while (started < requests || live.length > 0) {
      for (
        let admitted = 0;
        admitted < admitPerStep && live.length < streams && started < requests;
        admitted++
      ) {
        const lease = await pool.acquire([1, 2, 3, prompt++], 0, never);
        live.push({ slot: lease.slot, left: steps });
        started++;
      }
      full ||= live.length === streams;
      if (runsOf(live.map((run) => run.slot.slot)) > 1) {
        if (started === requests) counts.draining++;
        else if (full) counts.refilling++;
      }
      for (const run of live) run.left--;
      for (const run of live.filter((r) => r.left === 0)) {
        run.slot.tokens = [1, 2, 3, prompt++, 7, 7, 7, 7, 7, 7, 7]; // a cache the next one would lose
        pool.release(run.slot);
        live.splice(live.indexOf(run), 1);
      }
    }
    split.push(counts);
  }
  return split;
}

function runsOf(busy: number[]): number {
  const sorted = [...busy].sort((a, b) => a - b);
  return sorted.filter((slot, i) => i === 0 || sorted[i - 1] !== slot - 1).length;
}

describe("SequencePool's compact placement over a benchmark's levels", () => {
  it("counts a released slot as free again", async () => {
    const slots = Array.from({ length: 6 }, (_, slot) => ({ slot, tokens: [1, 2, 3] }));
    const pool = new SequencePool(slots, (s) => s.tokens, { compactWithin: 4 });
    const never = new AbortController().signal;
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push((await pool.acquire([1, 2, 3, 10 + i], 0, never)).slot);
    expect(taken.map((s) => s.slot)).toEqual([0, 1, 2]);
    pool.release(taken[2]!);
    // Were 2 still marked busy, 3 would look like the young end of 0..2 and leave a hole at 2.
    expect((await pool.acquire([1, 2, 3, 20], 0, never)).slot.slot).toBe(2);
  });

  it("keeps a full level's busy slots in one run after a smaller level used the low slots", async () => {
    // The lowest-free rule put the second level in the never-used 4..15 first, then 0..3: its
    // sequences finish in the order they started, so 4, 5, ... left while 0..3 ran, two runs.
    const [, second] = await splitStepsOfLevels([
      { streams: 4, requests: 4 },
      { streams: 16, requests: 16 },
    ]);
    expect(second).toEqual({ refilling: 0, draining: 0 });
  });

  it("keeps closed loops in one run while they refill, through never-used slots and used ones", async () => {
    // (Draining, a refilled slot ends by its age, not its position: holes there need a copy.)
    const levels = await splitStepsOfLevels([
      { streams: 6, requests: 24 },
      { streams: 12, requests: 36 },
      { streams: 3, requests: 9 },
    ]);
    expect(levels.map((level) => level.refilling)).toEqual([0, 0, 0]);
  });
});
