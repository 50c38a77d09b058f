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
import { type Level, type Placer, poolPlacer, replayLevels, type LevelCounts } from "./placement-replay.ts";
import { writeDocBlock } from "./doc-block.ts";

const COMPACT_WITHIN = 256; // native-engine.ts's COMPACT_WITHIN_TOKENS
const SYSTEM = Array.from({ length: 20 }, (_, i) => i + 1); // the chat template's shared start

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

/** "split steps / steps (micro-batches a step)" for each level. */
async function replay(
  levels: readonly Level[],
  answer: () => number,
  makePlacer: (cached: number[][]) => Placer,
): Promise<string[]> {
  let next = 1000;
  const counts: LevelCounts[] = await replayLevels(levels, makePlacer, {
    slots: 256,
    admitPerStep: 4, // ~2,048 prompt tokens a step over 512-token prompts
    answer,
    prompt: () => [...SYSTEM, ...Array.from({ length: 490 }, () => next++)],
    cacheAfter: () => [...SYSTEM, ...Array.from({ length: 600 }, () => next++)],
  });
  return counts.map((c) => `${c.split} / ${c.steps} (${(c.passes / c.steps).toFixed(2)})`);
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
  const now = await replay(scenario.levels, scenario.answer(), poolPlacer(COMPACT_WITHIN));
  const levels = scenario.levels.map((level) => `${level.streams}:${level.requests}`).join(", ");
  lines.push(`| ${scenario.name} | ${levels} | ${before.join(", ")} | ${now.join(", ")} |`);
}
console.log(lines.join("\n"));
writeDocBlock("placement", lines.join("\n"));
