/**
 * `npm run bench:placement`: how often the native engine's slot placement leaves the busy slots in
 * more than one run of consecutive slots, the steps llama.cpp splits into several passes over the
 * weights (one micro-batch for each run, with a KV stream per sequence). No model: it replays
 * admissions and finishes through the real SequencePool (the native engine's options: 256 slots,
 * compact placement within 256 tokens), a step at a time, against the rule it replaced.
 *
 * Scenarios: the GPU benchmark's levels in its order (bench/gpu/run.sh, LEVELS "64:64 256:256 1:8
 * 128:128 32:32 8:16"; 128-token answers, four prompts admitted a step), the same in reverse, and
 * closed loops of random answer lengths (16-511 tokens). Results go to docs/benchmarks.md.
 */
import { SequencePool } from "../src/engines/sequence-pool.ts";
import { writeDocBlock } from "./doc-block.ts";

const SLOTS = 256;
const COMPACT_WITHIN = 256; // native-engine.ts's COMPACT_WITHIN_TOKENS
const ADMIT_PER_STEP = 4; // ~2,048 prompt tokens a step over 512-token prompts
const SYSTEM = Array.from({ length: 20 }, (_, i) => i + 1); // the chat template's shared start

interface Level {
  streams: number;
  requests: number;
}

/** Places sequences on slots 0..SLOTS-1; `cached` holds what each slot's cache keeps. */
interface Placer {
  take(prompt: readonly number[]): Promise<number>;
  release(slot: number): void;
}

/** The native engine's pool. */
function poolPlacer(cached: number[][]): Placer {
  const slots = cached.map((_, slot) => slot);
  const pool = new SequencePool(slots, (slot) => cached[slot] ?? [], { compactWithin: COMPACT_WITHIN });
  return {
    take: async (prompt) => (await pool.acquire(prompt, 0, new AbortController().signal)).slot,
    release: (slot) => pool.release(slot),
  };
}

/**
 * The rule before, for these prompts (they share only the template, so every free slot is as good):
 * the lowest never-used slot while any remains, else the lowest free one.
 */
function lowestFreePlacer(cached: number[][]): Placer {
  const busy = new Set<number>();
  return {
    take: () => {
      const free = cached.map((_, slot) => slot).filter((slot) => !busy.has(slot));
      const chosen = free.find((slot) => cached[slot]?.length === 0) ?? free[0];
      if (chosen === undefined) throw new Error("no free slot");
      busy.add(chosen);
      return Promise.resolve(chosen);
    },
    release: (slot) => busy.delete(slot),
  };
}

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function runs(busy: Iterable<number>): number {
  const sorted = [...busy].sort((a, b) => a - b);
  return sorted.filter((slot, i) => i === 0 || sorted[i - 1] !== slot - 1).length;
}

/**
 * "split steps / steps (micro-batches a step)" for each level, played one after another on one set
 * of slots: the runs a step holds are the passes over the weights llama.cpp makes for it.
 */
async function replay(
  levels: readonly Level[],
  answer: () => number,
  makePlacer: (cached: number[][]) => Placer,
): Promise<string[]> {
  const cached: number[][] = Array.from({ length: SLOTS }, () => []);
  const placer = makePlacer(cached);
  let next = 1000;
  const results: string[] = [];
  for (const { streams, requests } of levels) {
    const live: { slot: number; left: number }[] = [];
    let started = 0;
    let steps = 0;
    let split = 0;
    let passes = 0;
    while (started < requests || live.length > 0) {
      for (let n = 0; n < ADMIT_PER_STEP && live.length < streams && started < requests; n++) {
        const prompt = [...SYSTEM, ...Array.from({ length: 490 }, () => next++)];
        live.push({ slot: await placer.take(prompt), left: 1 + answer() });
        started++;
      }
      steps++;
      const stepRuns = runs(live.map((run) => run.slot));
      if (stepRuns > 1) split++;
      passes += Math.max(1, stepRuns);
      for (const run of live) run.left--;
      for (const run of live.filter((r) => r.left === 0)) {
        cached[run.slot] = [...SYSTEM, ...Array.from({ length: 600 }, () => next++)];
        placer.release(run.slot);
        live.splice(live.indexOf(run), 1);
      }
    }
    results.push(`${split} / ${steps} (${(passes / steps).toFixed(2)})`);
  }
  return results;
}

const benchLevels: Level[] = [
  { streams: 64, requests: 64 },
  { streams: 256, requests: 256 },
  { streams: 1, requests: 8 },
  { streams: 128, requests: 128 },
  { streams: 32, requests: 32 },
  { streams: 8, requests: 16 },
];
const scenarios: { name: string; levels: Level[]; answer: () => () => number }[] = [
  { name: "GPU bench levels, its order", levels: benchLevels, answer: () => () => 128 },
  { name: "GPU bench levels, reversed", levels: [...benchLevels].reverse(), answer: () => () => 128 },
  {
    name: "closed loops, answers 16-511",
    levels: [64, 64, 32, 128, 200].map((streams) => ({ streams, requests: 1000 })),
    answer: () => {
      const next = random(7);
      return () => 16 + Math.floor(next() * 496);
    },
  },
];

const lines = [
  "### Slot placement (`npm run bench:placement`)",
  "",
  "Steps whose busy slots form more than one run of consecutive slots (llama.cpp splits each into a",
  "micro-batch per run), over all steps, and in brackets the mean micro-batches a step (passes over the",
  "weights); level by level on one 256-slot pool; no model (bench/placement.ts).",
  "",
  "| scenario | levels (streams:requests) | before: lowest free slot | now: slot-placement.ts |",
  "|---|---|---|---|",
];
for (const scenario of scenarios) {
  const before = await replay(scenario.levels, scenario.answer(), lowestFreePlacer);
  const now = await replay(scenario.levels, scenario.answer(), poolPlacer);
  const levels = scenario.levels.map((level) => `${level.streams}:${level.requests}`).join(", ");
  lines.push(`| ${scenario.name} | ${levels} | ${before.join(", ")} | ${now.join(", ")} |`);
}
console.log(lines.join("\n"));
writeDocBlock("placement", lines.join("\n"));
