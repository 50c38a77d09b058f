/**
 * Prefix reuse on one slot of the native engine (tiny model, CPU, one thread): every request
 * reuses, or must erase, the previous one's cache, and must give the tokens it gives on an empty
 * cache, whatever history, cancel or seed came before. The oracle and its exactness limit:
 * tiny-engine-support.ts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { Engine, GenerationRequest } from "../engine.ts";
import { createNativeEngine } from "./native-engine.ts";
import {
  engineOptions,
  expectIdle,
  GREEDY,
  LONG_PROMPT,
  request,
  TINY_PROMPT,
  UNRELATED,
} from "./tiny-engine-support.ts";

describe("native engine stress: prefix reuse on one slot (tiny model, CPU)", () => {
  const CHUNK = 32;
  let engine: Engine;

  beforeAll(async () => {
    // One slot: every request reuses (or must erase) the previous one's cache. A small batch:
    // LONG_PROMPT is prefilled in chunks, which a cancel can cut.
    engine = await createNativeEngine(await engineOptions({ maxSequences: 1, batchSize: CHUNK }));
  });

  afterAll(async () => {
    await engine.close();
  });

  const erase = (): Promise<unknown> =>
    collectRun(engine, request({ promptTokens: UNRELATED, maxTokens: 2 }));

  it("a repeated prompt gives the same tokens over a longer and over a diverging history", async () => {
    await erase();
    const first = await collectRun(engine, request({ maxTokens: 12 }));
    expect(first.finish.usage.cachedTokens).toBe(0);

    // Longer history: the prompt, its answer and a follow-up turn.
    const longer = [...TINY_PROMPT, ...first.tokens, 200_007, 200_006, 1428, 200_008, 9000];
    await collectRun(engine, request({ promptTokens: longer, maxTokens: 8 }));
    const overLonger = await collectRun(engine, request({ maxTokens: 12 }));
    expect(overLonger.tokens).toEqual(first.tokens);
    expect(overLonger.finish.usage.cachedTokens).toBe(TINY_PROMPT.length - 1);

    // Diverging history: the same first tokens, then others.
    await collectRun(
      engine,
      request({ promptTokens: [...TINY_PROMPT.slice(0, 5), 7777, 7778], maxTokens: 8 }),
    );
    const overDiverging = await collectRun(engine, request({ maxTokens: 12 }));
    expect(overDiverging.tokens).toEqual(first.tokens);
    expect(overDiverging.finish.usage.cachedTokens).toBe(5);
  });

  it("a strict prefix of the slot's history gives what it gives on an empty cache", async () => {
    const prefix = TINY_PROMPT.slice(0, 7);
    await erase();
    const fresh = await collectRun(engine, request({ promptTokens: prefix, maxTokens: 12 }));
    expect(fresh.finish.usage.cachedTokens).toBe(0);

    await collectRun(engine, request({ maxTokens: 20 }));
    const reused = await collectRun(engine, request({ promptTokens: prefix, maxTokens: 12 }));
    expect(reused.finish.usage.cachedTokens).toBe(prefix.length - 1);
    expect(reused.tokens).toEqual(fresh.tokens);
  });

  it("reuses a cancelled run's cache, tokens sampled after the cancel included, without changing results", async () => {
    await erase();
    const ref = await collectRun(engine, request({ promptTokens: LONG_PROMPT, maxTokens: 30 }));

    await erase();
    const controller = new AbortController();
    const cancelled = await collectRun(
      engine,
      request({ promptTokens: LONG_PROMPT, maxTokens: 30 }),
      controller.signal,
      (n) => n >= 5 && controller.abort(),
    );
    expect(cancelled.finish.reason).toBe("cancelled");
    expect(cancelled.tokens).toEqual(ref.tokens.slice(0, cancelled.tokens.length));
    await expectIdle(engine);

    // Greedy: whatever the loop sampled before the cancel landed is the reference's next tokens.
    // Only the first tokens are compared: the follow-up prefills some of these 20 tokens in one
    // batch where the reference decoded them one per step (see tiny-engine-support.ts).
    const followUp = [...LONG_PROMPT, ...ref.tokens.slice(0, 20)];
    const resumed = await collectRun(engine, request({ promptTokens: followUp, maxTokens: 3 }));
    expect(resumed.finish.usage.cachedTokens).toBeGreaterThanOrEqual(LONG_PROMPT.length + 4);
    expect(resumed.tokens).toEqual(ref.tokens.slice(20, 23));
  });

  it("reuses the chunks of a prompt that a cancel cut off mid-prefill", async () => {
    await erase();
    const ref = await collectRun(engine, request({ promptTokens: LONG_PROMPT, maxTokens: 10 }));
    let cutMidPrefill = false;
    // A chunk takes ~2 ms here; try later and later aborts until one lands inside the prefill.
    for (const delay of [1, 2, 3, 5, 8, 12]) {
      await erase();
      const controller = new AbortController();
      const cutting = collectRun(
        engine,
        request({ promptTokens: LONG_PROMPT, maxTokens: 10 }),
        controller.signal,
      );
      await sleep(delay);
      controller.abort();
      const cut = await cutting;
      expect(cut.finish.reason).toBe("cancelled");
      expect(cut.tokens).toEqual(ref.tokens.slice(0, cut.tokens.length));
      await expectIdle(engine);
      const again = await collectRun(engine, request({ promptTokens: LONG_PROMPT, maxTokens: 10 }));
      expect(again.tokens).toEqual(ref.tokens);
      const cached = again.finish.usage.cachedTokens;
      if (cached > 0 && cached < LONG_PROMPT.length - 1) {
        // The slot held whole chunks: what the core decoded, no more, no less.
        expect(cached % CHUNK).toBe(0);
        cutMidPrefill = true;
        break;
      }
    }
    expect(cutMidPrefill).toBe(true);
  });

  it("every other run cancelled as its first tokens arrive: no cancel hits the slot's next run", async () => {
    const ref = (await collectRun(engine, request({ maxTokens: 6 }))).tokens;
    // maxTokens 1-3: the cancel often crosses the native finish, and the next run is already waiting.
    const runs = Array.from({ length: 30 }, (_, i) => {
      const controller = new AbortController();
      const cancelled = i % 2 === 0;
      const maxTokens = 1 + (i % 3);
      return collectRun(engine, request({ maxTokens }), controller.signal, () => {
        if (cancelled) controller.abort();
      }).then((run) => ({ run, cancelled, maxTokens }));
    });
    for (const { run, cancelled, maxTokens } of await Promise.all(runs)) {
      expect(run.tokens).toEqual(ref.slice(0, run.tokens.length));
      if (!cancelled) {
        expect(run.finish.reason).toBe("length");
        expect(run.tokens).toHaveLength(maxTokens);
      }
    }
    await expectIdle(engine);
    expect((await collectRun(engine, request({ maxTokens: 6 }))).tokens).toEqual(ref);
  });

  it("a seed gives the same draws after other seeds and penalties ran on the slot, another seed others", async () => {
    const seeded = (seed: number): GenerationRequest =>
      request({
        maxTokens: 20,
        sampling: { ...GREEDY, temperature: 0.9, presencePenalty: 0.5, frequencyPenalty: 0.5, seed },
      });
    await erase();
    const first = await collectRun(engine, seeded(7));
    // Different RNG draws and penalty counts on the slot in between; then the cache is erased again
    // so that the seeded run's steps are the same as the first time.
    await collectRun(engine, request({ ...seeded(9), promptTokens: UNRELATED, maxTokens: 30 }));
    const again = await collectRun(engine, seeded(7));
    expect(again.finish.usage.cachedTokens).toBe(0);
    expect(again.tokens).toEqual(first.tokens);
    await erase();
    expect((await collectRun(engine, seeded(8))).tokens).not.toEqual(first.tokens);
  });
});
