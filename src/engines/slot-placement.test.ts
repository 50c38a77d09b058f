import { describe, expect, it } from "vitest";
import { SequencePool } from "./sequence-pool.ts";
import { type Level, poolPlacer, replayLevels } from "../../bench/placement-replay.ts";
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
 * The GPU benchmark's pattern in small (bench/placement-replay.ts): closed-loop levels on 16 slots,
 * each request generating for the same number of steps, two admitted a step; a used slot caches more
 * than the 4-token margin a new prompt would lose, so the pool keeps it while never-used slots remain.
 */
async function splitStepsOfLevels(
  levels: readonly Level[],
): Promise<{ refilling: number; draining: number }[]> {
  let prompt = 100;
  const counts = await replayLevels(levels, poolPlacer(4), {
    slots: 16,
    admitPerStep: 2,
    answer: () => 5,
    prompt: () => [1, 2, 3, prompt++],
    cacheAfter: () => [1, 2, 3, prompt++, 7, 7, 7, 7, 7, 7, 7],
  });
  return counts.map((c) => ({ refilling: c.splitRefilling, draining: c.splitDraining }));
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
