/**
 * Stream compaction (native/src/decode_loop.cpp, compact_streams) on the real addon and the tiny model,
 * on the CPU, which takes llama.cpp's same path: with a KV stream per sequence, a micro-batch holds only
 * sequences on consecutive streams. Three sequences decode on slots 0, 1 and 2; the middle one ends
 * first. Without compaction every later step is split in two (streams 0 and 2); with it the sequence on
 * stream 2 moves into stream 1, its KV cache copied by llama.cpp, and no step is split. Either way the
 * two long sequences give the greedy tokens they give alone: a wrong or missing copy would change the
 * moved one's (the first TRUSTED_TOKENS, as the churn test trusts, since batch shapes differ).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { NativeCore } from "./native-core.ts";
import type { NativeEngine } from "./native-engine.ts";
import { engineOverRealCore } from "./real-core-for-test.ts";
import { GREEDY, request, TINY_PROMPT, TRUSTED_TOKENS, UNRELATED } from "./tiny-engine-support.ts";

const PROMPTS = [TINY_PROMPT, UNRELATED, [...TINY_PROMPT.slice(0, 6), 3000, 3001, 3002]];
const MAX_TOKENS = [TRUSTED_TOKENS, 3, TRUSTED_TOKENS];
const LONG_RUN = 400;

let alone: { engine: NativeEngine; core: NativeCore };
const refs: number[][] = [];

beforeAll(async () => {
  alone = await engineOverRealCore(1);
  for (const [i, promptTokens] of PROMPTS.entries()) {
    const maxTokens = MAX_TOKENS[i]!;
    refs.push(
      (await collectRun(alone.engine, request({ promptTokens, maxTokens, sampling: GREEDY }))).tokens,
    );
  }
});
afterAll(async () => {
  await alone?.engine.close();
});

/** The three requests at once on a fresh three-slot engine; their tokens and the core's counters. */
async function together(compact: "on" | "off") {
  const { engine, core } = await engineOverRealCore(3, 1, "off", compact);
  try {
    const runs = await Promise.all(
      PROMPTS.map((promptTokens, i) =>
        collectRun(engine, request({ promptTokens, maxTokens: MAX_TOKENS[i]!, sampling: GREEDY })),
      ),
    );
    // The last step's counters can land a moment after its tokens reach JavaScript.
    await vi.waitFor(() => expect(core.stats().activeSequences).toBe(0));
    return { tokens: runs.map((r) => r.tokens), stats: core.stats() };
  } finally {
    await engine.close();
  }
}

describe("native core: stream compaction (tiny model, CPU)", () => {
  it("has references the runs can tell apart", () => {
    expect(refs.map((r) => r.length)).toEqual(MAX_TOKENS);
    expect(new Set(refs.map((r) => r.join())).size).toBe(3);
  });

  it("without it, the steps after the middle sequence ends are split in two", async () => {
    const { tokens, stats } = await together("off");
    expect(tokens).toEqual(refs);
    expect(stats.streamMoves).toBe(0);
    // The long ones decode TRUSTED_TOKENS - 3 more steps after the short one's last (a step or two
    // fewer split when their prompts were read in different steps, as timing decides).
    expect(stats.pureDecodeSplitSteps).toBeGreaterThanOrEqual(TRUSTED_TOKENS - 6);
  });

  it("with it, the last sequence moves into the gap, no step is split, and its tokens are unchanged", async () => {
    const { tokens, stats } = await together("on");
    expect(tokens).toEqual(refs);
    expect(stats.streamMoves).toBe(1);
    expect(stats.pureDecodeSplitSteps).toBe(0);
  });
});

describe("native core: a prompt on a stream between generating ones (tiny model, CPU)", () => {
  it("joins their micro-batch: the tokens go into the batch in stream order", async () => {
    // Block statistics on for every step (CPU): a step whose outputs come from more than one
    // micro-batch cannot use them and counts a miss, so misses count split steps.
    const { engine, core } = await engineOverRealCore(3, 1, "on", "off");
    try {
      const sampling = { ...GREEDY, temperature: 1, seed: 11 };
      const seen = [0, 0, 0];
      const run = (promptTokens: number[], maxTokens: number, i = 1) =>
        collectRun(engine, request({ promptTokens, maxTokens, sampling }), undefined, (n) => (seen[i] = n));
      // Three prompts on slots 0, 1 and 2 (when each is read depends on timing).
      const head = TINY_PROMPT.slice(0, 8);
      const [a, b0, c] = [
        [...head, 3000],
        [...head, 3001],
        [...head, 3002],
      ];
      // Long enough (a step here takes ~1 ms) that b comes while A and C still have far to go.
      const long = [run(a, LONG_RUN, 0), run(b0, 1), run(c, LONG_RUN, 2)];
      await long[1];
      // Counted from a step where A and C decode (a step's counters change together): the steps that
      // read the first prompts are behind, whichever they were.
      await vi.waitFor(() => expect(Math.min(seen[0]!, seen[2]!)).toBeGreaterThanOrEqual(2), { interval: 1 });
      // Slot 1 is free and caches b0: b reuses all of it and reads one token, on stream 1, while
      // streams 0 and 2 decode (their steps split in two meanwhile: no compaction here).
      const before = core.stats();
      await run([...b0, 4000], 3);
      const after = core.stats();
      await Promise.all(long);
      const split = after.pureDecodeSplitSteps! - before.pureDecodeSplitSteps!;
      // The scenario splits steps at all: A and C decode on alone, with slot 1 between them free.
      await vi.waitFor(() => expect(core.stats().activeSequences).toBe(0));
      expect(core.stats().pureDecodeSplitSteps).toBeGreaterThan(after.pureDecodeSplitSteps!);
      // Every miss is a split decode step: b's one-token step (A, b, C in stream order) was one
      // micro-batch. Pushed after the decode tokens, it would have been three, and one more miss.
      expect(after.blockStatMisses - before.blockStatMisses).toBe(split);
      expect(after.blockStatDraws).toBeGreaterThan(before.blockStatDraws);
    } finally {
      await engine.close();
    }
  });
});
