/**
 * The native engine's lifetime and its edges (tiny model, CPU, one thread): close() in the middle
 * of work, input the core must refuse without taking the process down, and a batch size below the
 * sequence count. The shared constants and helpers: tiny-engine-support.ts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerError } from "../../errors/server-error.ts";
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
  VOCAB_SIZE,
} from "./tiny-engine-support.ts";

describe("native engine stress: close() under load (tiny model, CPU)", () => {
  it("ends 4 running and 5 waiting streams 'cancelled', resolves promptly, then refuses requests", async () => {
    const engine = await createNativeEngine(await engineOptions());
    let closed = false;
    try {
      // ~1000 tokens each: none can finish before close().
      const long = (promptTokens: readonly number[]): GenerationRequest =>
        request({ promptTokens, maxTokens: 5_000, ignoreStopTokens: true });
      const firstTokens: Promise<void>[] = [];
      const running = [TINY_PROMPT, LONG_PROMPT, [...TINY_PROMPT, 1000], [200_006, 2000]].map((prompt) => {
        let started!: () => void;
        firstTokens.push(new Promise<void>((resolve) => (started = resolve)));
        return collectRun(engine, long(prompt), undefined, () => started());
      });
      await Promise.all(firstTokens);
      const waiting = [0, 1, 2, 3].map((i) => collectRun(engine, long([...TINY_PROMPT, 2000 + i])));
      // One waiting consumer is not reading when close() comes: it ends once it reads again.
      const pausedStream = engine.generate(long([...TINY_PROMPT, 3000]), new AbortController().signal);
      const paused = pausedStream[Symbol.asyncIterator]();
      const pausedFirst = paused.next();
      await sleep(20);
      expect(engine.health().activeSequences).toBe(4);

      const closing = performance.now();
      await Promise.all([engine.close(), engine.close()]);
      closed = true;
      expect(performance.now() - closing).toBeLessThan(3_000);

      for (const run of await Promise.all(running)) {
        expect(run.finish.reason).toBe("cancelled");
        expect(run.tokens.length).toBeGreaterThan(0);
        expect(run.tokens.length).toBeLessThan(1_000);
        expect(run.finish.usage.completionTokens).toBe(run.tokens.length);
      }
      // Waiting streams are cancelled too (their abort comes before the pool refuses them).
      for (const run of await Promise.all(waiting)) {
        expect(run.finish.reason).toBe("cancelled");
        expect(run.tokens).toEqual([]);
        expect(run.finish.usage).toMatchObject({ cachedTokens: 0, completionTokens: 0 });
      }
      expect((await pausedFirst).value).toMatchObject({ type: "finish", reason: "cancelled" });
      expect((await paused.next()).done).toBe(true);

      expect(engine.health()).toMatchObject({ status: "failed", activeSequences: 0, detail: "closed" });
      await expect(collectRun(engine, request())).rejects.toMatchObject({ code: "shutting_down" });
      await expect(collectRun(engine, request(), AbortSignal.abort())).rejects.toMatchObject({
        code: "shutting_down",
      });
    } finally {
      if (!closed) await engine.close();
    }
  });
});

describe("native engine stress: bad input straight to the engine (tiny model, CPU)", () => {
  let engine: Engine;
  let ref: number[];

  beforeAll(async () => {
    engine = await createNativeEngine(await engineOptions({ maxSequences: 1 }));
    ref = (await collectRun(engine, request({ maxTokens: 8 }))).tokens;
  });

  afterAll(async () => {
    await engine.close();
  });

  /** The slot still works and its cache was not corrupted by what went before. */
  async function expectHealthy(): Promise<void> {
    await expectIdle(engine);
    expect((await collectRun(engine, request({ maxTokens: 8 }))).tokens).toEqual(ref);
  }

  it.each([
    ["far outside the vocabulary", [...TINY_PROMPT, 10_000_000]],
    ["just past the vocabulary", [...TINY_PROMPT, VOCAB_SIZE]],
    ["negative", [-1, ...TINY_PROMPT]],
  ])("a prompt token %s is an engine_error, and the next request still works", async (_, promptTokens) => {
    const error = await collectRun(engine, request({ promptTokens })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({
      code: "engine_error",
      message: expect.stringContaining("outside the vocabulary"),
    });
    await expectHealthy();
  });

  // Int32Array.from would wrap ids modulo 2^32 and truncate fractions: the engine checks them first.
  it.each([
    ["beyond 32 bits", 2 ** 32 + 5],
    ["fractional", 1.5],
    ["NaN", Number.NaN],
  ])("a prompt token id %s is refused, not wrapped into another token", async (_, bad) => {
    await expect(collectRun(engine, request({ promptTokens: [...TINY_PROMPT, bad] }))).rejects.toBeInstanceOf(
      ServerError,
    );
  });

  it("a bad token right after the slot's cached history leaves the slot working", async () => {
    // The slot holds TINY_PROMPT + ref: this prompt would reuse all of it before the bad token.
    await collectRun(engine, request({ maxTokens: 8 }));
    await expect(
      collectRun(engine, request({ promptTokens: [...TINY_PROMPT, ...ref, 10_000_000, 5] })),
    ).rejects.toMatchObject({ code: "engine_error" });
    await expectHealthy();
  });

  it("logit_bias on ids outside the vocabulary is ignored; banning every token is the request's error", async () => {
    const outside = new Map([
      [10_000_000, 100],
      [-3, 100],
      [VOCAB_SIZE, -100],
    ]);
    const biased = await collectRun(
      engine,
      request({ maxTokens: 8, sampling: { ...GREEDY, logitBias: outside } }),
    );
    expect(biased.tokens).toEqual(ref);

    const everything = new Map(Array.from({ length: VOCAB_SIZE }, (_, token) => [token, -100] as const));
    await expect(
      collectRun(engine, request({ sampling: { ...GREEDY, temperature: 1, logitBias: everything } })),
    ).rejects.toMatchObject({
      code: "invalid_value",
      param: "logit_bias",
      message: expect.stringContaining("every token is excluded"),
    });
    await expectHealthy();
  });

  it("requests refused before they reach the core leave no slot leased", async () => {
    await expect(collectRun(engine, request({ promptTokens: [] }))).rejects.toMatchObject({
      code: "invalid_value",
    });
    await expect(collectRun(engine, request({ maxTokens: 0 }))).rejects.toMatchObject({
      code: "invalid_value",
    });
    await expect(collectRun(engine, request({ maxTokens: 2.5 }))).rejects.toMatchObject({
      code: "invalid_value",
    });
    // The whole context (1024): nothing would be left to generate into. (1023 is served: one token.)
    const tooLong = Array.from({ length: 1024 }, (_, i) => 1000 + i);
    await expect(collectRun(engine, request({ promptTokens: tooLong }))).rejects.toMatchObject({
      code: "context_length_exceeded",
    });
    await expectHealthy();
  });
});

describe("native engine stress: a batch size below the sequence count (tiny model, CPU)", () => {
  it("is raised to one token per sequence instead of overrunning the step's batch", async () => {
    // The core used to write past its batch and abort the process (GGML_ASSERT) with 4 streams
    // and batchSize 2; the engine now raises it, and the core refuses anything lower.
    const engine = await createNativeEngine(await engineOptions({ maxSequences: 4, batchSize: 2 }));
    try {
      const runs = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          collectRun(engine, request({ promptTokens: [...TINY_PROMPT, 1000 + i], maxTokens: 6 })),
        ),
      );
      for (const run of runs) {
        expect(run.finish.reason).toBe("length");
        expect(run.tokens).toHaveLength(6);
      }
    } finally {
      await engine.close();
    }
  });
});
