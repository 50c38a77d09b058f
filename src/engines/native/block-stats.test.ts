/**
 * The block statistics of the logits (native/src/logit_block_stats.h) on the real addon and the tiny
 * model, on the CPU ("on": computed by ggml's CPU backend through llama.cpp's eval callback; on a GPU
 * the same graph runs on the GPU). A draw from them picks the block from the masses and reads only
 * that block's logits, with the same uniform number and the same inverse CDF over token order as the
 * whole-row draw: a seeded request gives the same tokens either way (exactness, checked token by
 * token against the sampler the statistical tests cover), and requests they cannot serve (top_p < 1,
 * penalties, biases, logprobs, T < 0.05) read whole rows. The two draws may part only where the
 * uniform number falls within float rounding (~1e-7) of a boundary between two tokens: on the tiny
 * model's flat rows ~1e-4 of draws at T = 1, none seen in thousands at T <= 0.7, which these use.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest, SamplingParams } from "../engine.ts";
import type { NativeCore } from "./native-core.ts";
import { blockStatsSetting, type NativeEngine } from "./native-engine.ts";
import { engineOverRealCore } from "./real-core-for-test.ts";
import { GREEDY, LONG_PROMPT, request, TINY_PROMPT } from "./tiny-engine-support.ts";

let withStats: { engine: NativeEngine; core: NativeCore };
let withoutStats: { engine: NativeEngine; core: NativeCore };

beforeAll(async () => {
  // "check": each draw from the statistics is made again from the whole row, and must agree.
  withStats = await engineOverRealCore(2, 1, "check");
  withoutStats = await engineOverRealCore(2, 1, "off");
});
afterAll(async () => {
  await withStats?.engine.close();
  await withoutStats?.engine.close();
});

const sampling = (overrides: Partial<SamplingParams> = {}): SamplingParams => ({
  ...GREEDY,
  temperature: 1,
  ...overrides,
});
const seeded = (
  seed: number,
  overrides: Partial<SamplingParams> = {},
  prompt = TINY_PROMPT,
): GenerationRequest =>
  request({ promptTokens: prompt, maxTokens: 24, sampling: { ...sampling(overrides), seed } });

/** The tokens of a run and the statistics' counters it moved. */
async function run(
  on: { engine: NativeEngine; core: NativeCore },
  req: GenerationRequest,
): Promise<{ tokens: number[]; draws: number; misses: number; mismatches: number }> {
  const before = on.core.stats();
  const { tokens } = await collectRun(on.engine, req);
  const after = on.core.stats();
  return {
    tokens,
    draws: after.blockStatDraws - before.blockStatDraws,
    misses: after.blockStatMisses - before.blockStatMisses,
    mismatches: after.blockStatMismatches - before.blockStatMismatches,
  };
}

describe("native core: draws from the block statistics of the logits (tiny model, CPU backend)", () => {
  it("draws the same tokens as the whole-row sampler for the same seeds, from the statistics", async () => {
    for (const [seed, temperature] of [
      [1, 0.7],
      [2, 0.5],
      [3, 0.6],
    ] as const) {
      const rowWise = await run(withoutStats, seeded(seed, { temperature }));
      const blockWise = await run(withStats, seeded(seed, { temperature }));
      expect(rowWise.tokens).toHaveLength(24);
      expect(blockWise.tokens).toEqual(rowWise.tokens);
      // Every token but the first came from a pure decode step's statistics; none were refused.
      expect(blockWise.draws).toBeGreaterThanOrEqual(23);
      expect(blockWise.misses).toBe(0);
      expect(blockWise.mismatches).toBe(0);
      expect(rowWise.draws).toBe(0);
    }
  });

  it("serves several sequences in one step, each from its own row's masses", async () => {
    // Together the rows share steps (and llama.cpp's batched arithmetic: tokens may differ from runs
    // alone), so each draw is checked against the whole-row draw of the same row and generator.
    const before = withStats.core.stats();
    const runs = await Promise.all([
      collectRun(withStats.engine, seeded(11, { temperature: 0.7 })),
      collectRun(withStats.engine, seeded(12, { temperature: 0.5 }, LONG_PROMPT.slice(0, 40))),
    ]);
    const after = withStats.core.stats();
    expect(runs.map((r) => r.tokens.length)).toEqual([24, 24]);
    expect(after.blockStatDraws - before.blockStatDraws).toBeGreaterThanOrEqual(40);
    expect(after.blockStatMismatches - before.blockStatMismatches).toBe(0);
  });

  it("leaves the rows they cannot serve to the whole-row sampler", async () => {
    for (const overrides of [
      { temperature: 0.01 },
      { topP: 0.9 },
      { presencePenalty: 0.5 },
      { frequencyPenalty: 0.5 },
      { logitBias: new Map([[1000, 2]]) },
    ]) {
      const rowWise = await run(withoutStats, seeded(5, overrides));
      const blockWise = await run(withStats, seeded(5, overrides));
      expect(blockWise.draws).toBe(0);
      expect(blockWise.tokens).toEqual(rowWise.tokens);
    }
    // Under a grammar the first draw of a step may use the masses; a rejected one is drawn again from
    // the masked row, never from them ("check" would count a draw that disagreed).
    const before = withStats.core.stats();
    const constrained = await collectRun(
      withStats.engine,
      request({
        promptTokens: TINY_PROMPT,
        maxTokens: 12,
        sampling: { ...sampling({ temperature: 0.7 }), seed: 8 },
        grammar: { gbnf: 'root ::= [a-z]+ "."' },
      }),
    );
    expect(constrained.tokens.length).toBeGreaterThan(0);
    expect(withStats.core.stats().blockStatMismatches - before.blockStatMismatches).toBe(0);
    // Greedy is an argmax: no draw at all.
    expect(
      (await run(withStats, request({ promptTokens: TINY_PROMPT, maxTokens: 8, sampling: GREEDY }))).draws,
    ).toBe(0);
  });
});

describe("GPTOSS_BLOCK_STATS", () => {
  it("is auto unless set on (every step) or off; the test-only check mode cannot be set from outside", () => {
    expect(blockStatsSetting("on")).toBe("on");
    for (const value of [" ON ", "1", "true", "yes"]) expect(blockStatsSetting(value)).toBe("on");
    for (const value of ["off", "OFF", "0", "false", "no"]) expect(blockStatsSetting(value)).toBe("off");
    for (const value of [undefined, "", "auto", "AUTO", "check", "2"])
      expect(blockStatsSetting(value)).toBe("auto");
  });
});
