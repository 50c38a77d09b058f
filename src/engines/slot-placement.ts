/**
 * Where a new sequence goes among equally good free slots, so that the busy slots stay consecutive.
 *
 * Why: with a KV stream per sequence, llama.cpp decodes in one micro-batch only sequences whose ids
 * follow one another; each extra run of consecutive busy slots is another pass over the weights on
 * every step. Sequences mostly end in the order they started (equal budgets, FIFO admission), so the
 * runs stay whole when placements fill holes first and otherwise grow one run at its young end:
 *
 *   tier 3: a free slot beside a busy one, in a gap with busy slots on both sides (the smallest gap
 *      first): filling it joins two runs, or readies the join;
 *   tier 2: a free slot beside a busy one at a run's open end, the end whose busy neighbour was
 *      taken last (the young end: the old end is where sequences finish and leave);
 *   tier 1: with no busy neighbour at all, a slot at the wall end of the longest free stretch, so
 *      the run it starts can grow through all of it (a burst that starts in a server's never-used
 *      high slots then sweeps down into its used low ones without a break);
 *   tier 0: else the lowest.
 *
 * Ties go to the lowest slot. `npm run bench:placement` replays the GPU benchmark's levels
 * (bench/gpu/run.sh: 64, 256, 1, 128, 32 and 8 streams in turn, 128-token answers) through the pool:
 * the lowest-slot rule this replaced split 62 of the 256 level's 192 steps, this rule none. With
 * random answer lengths both make about as many micro-batches a step (within ±2%; 6.5 against 7.1
 * while never-used slots remain): there, holes open wherever a sequence ends, and only moving
 * sequences (the core's stream compaction) closes them.
 *
 * Slots are taken as streams: the core's stream compaction (GPTOSS_COMPACT_STREAMS=on, off by
 * default) moves sequences to other streams, and this placement does not see those moves.
 */

/**
 * `candidates`: the slots (their positions, 0-based) the caller counts as equally good;
 * `takenAt[slot]`: when a busy slot was taken (any increasing clock), undefined for a free one.
 * Returns one of `candidates` (which must not be empty).
 */
export function pickSlot(candidates: readonly number[], takenAt: readonly (number | undefined)[]): number {
  const size = takenAt.length;
  const busy = (slot: number): boolean => slot >= 0 && slot < size && takenAt[slot] !== undefined;
  // Each free slot's stretch of free slots [low, high].
  const low = new Array<number>(size);
  const high = new Array<number>(size);
  for (let slot = 0; slot < size; slot++)
    low[slot] = busy(slot - 1) || slot === 0 ? slot : (low[slot - 1] as number);
  for (let slot = size - 1; slot >= 0; slot--) {
    high[slot] = busy(slot + 1) || slot === size - 1 ? slot : (high[slot + 1] as number);
  }

  let best = candidates[0] as number;
  let bestScore: readonly number[] = [-1];
  for (const slot of candidates) {
    const score = placementScore(slot, busy, takenAt, low[slot] as number, high[slot] as number);
    if (betterThan(score, bestScore) || (equal(score, bestScore) && slot < best)) {
      best = slot;
      bestScore = score;
    }
  }
  return best;
}

/** [tier, key]: a higher tier wins, then a higher key. */
function placementScore(
  slot: number,
  busy: (slot: number) => boolean,
  takenAt: readonly (number | undefined)[],
  low: number,
  high: number,
): readonly number[] {
  const left = busy(slot - 1);
  const right = busy(slot + 1);
  if (left || right) {
    if (busy(low - 1) && busy(high + 1)) return [3, -(high - low)];
    const neighbourTaken = Math.max(
      left ? (takenAt[slot - 1] as number) : -Infinity,
      right ? (takenAt[slot + 1] as number) : -Infinity,
    );
    return [2, neighbourTaken];
  }
  const atWallEnd = (slot === low && low === 0) || (slot === high && high === takenAt.length - 1);
  return atWallEnd ? [1, high - low] : [0, 0];
}

function betterThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? -Infinity;
    const y = b[i] ?? -Infinity;
    if (x !== y) return x > y;
  }
  return false;
}

function equal(a: readonly number[], b: readonly number[]): boolean {
  return !betterThan(a, b) && !betterThan(b, a);
}
