import { setImmediate as nextTurn } from "node:timers/promises";
import { engineOptions, RETURN_TOKEN, TINY_PROMPT, VOCAB_SIZE } from "./tiny-engine-support.ts";
import { describe, expect, it } from "vitest";
import { ServerError } from "../../errors/server-error.ts";
import { collectRun, describeEngineContract } from "../engine.contract.ts";
import type { EngineInfo, GenerationRequest } from "../engine.ts";
import { FakeNativeCore } from "./fake-native-core.ts";
import { createNativeEngine, NativeEngine } from "./native-engine.ts";

const PROMPT = [1, 2, 3, 4];

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "native-test",
  promptTokens: PROMPT,
  stopTokens: [9],
  maxTokens: 8,
  sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
  ...overrides,
});

/** A NativeEngine over a FakeNativeCore whose deliveries reach the engine as the addon's do. */
function fakeEngine(options: { sequences?: number; eogTokens?: number[] } = {}) {
  const sequences = options.sequences ?? 1;
  const info: EngineInfo = {
    name: "llama-cpp-native",
    modelId: "fake",
    modelSize: "fake",
    contextSize: 64,
    maxSequences: sequences,
    gpuMode: "cpu",
    randomWeights: true,
    capabilities: { prefixCache: true, grammar: true },
  };
  let afterCloseCalls = 0;
  const core = new FakeNativeCore(
    { sequences, contextPerSequence: 64, eogTokens: options.eogTokens ?? [] },
    (events) => engine.deliver(events),
  );
  const engine = new NativeEngine(core, info, {
    afterClose: () => {
      afterCloseCalls++;
      return Promise.resolve();
    },
  });
  return { engine, core, afterCloseCalls: () => afterCloseCalls };
}

describe("native engine (FakeNativeCore)", () => {
  it("yields one tokens event per delivery, then finish 'length' with usage", async () => {
    const { engine, core } = fakeEngine();
    const run = collectRun(engine, request({ maxTokens: 4 }));
    const added = await core.nextAdd();
    core.emit(0, [5, 6, 7]);
    core.finish(0, "length", { tokens: [8] });
    const { events } = await run;
    expect(events).toEqual([
      { type: "tokens", tokens: [5, 6, 7] },
      { type: "tokens", tokens: [8] },
      { type: "finish", reason: "length", usage: { promptTokens: 4, cachedTokens: 0, completionTokens: 4 } },
    ]);
    expect(added).toMatchObject({ slot: 0, reuse: 0, maxTokens: 4, minTokens: 0 });
    expect(Array.from(added.tokens)).toEqual(PROMPT);
    expect(Array.from(added.stopTokens)).toEqual([9]);
  });

  it("caps maxTokens to what fits in the context", async () => {
    const { engine, core } = fakeEngine();
    const run = collectRun(engine, request({ maxTokens: 1000 }));
    expect((await core.nextAdd()).maxTokens).toBe(64 - PROMPT.length);
    core.finish(0, "length");
    await run;
  });

  it("maps 'stop' with the last token as the stop token", async () => {
    const { engine, core } = fakeEngine();
    const run = collectRun(engine, request());
    await core.nextAdd();
    core.emit(0, [5]);
    core.finish(0, "stop", { tokens: [9] });
    const { finish, tokens } = await run;
    expect(tokens).toEqual([5, 9]);
    expect(finish).toMatchObject({ reason: "stop", stopToken: 9, usage: { completionTokens: 2 } });
  });

  it("maps a native 'cancelled' it did not ask for to 'cancelled'", async () => {
    const { engine, core } = fakeEngine();
    const run = collectRun(engine, request());
    await core.nextAdd();
    core.finish(0, "cancelled", { tokens: [5] });
    const { finish } = await run;
    expect(finish).toMatchObject({ reason: "cancelled", usage: { completionTokens: 1 } });
  });

  it("throws engine_error with the core's message on 'error', and reuses nothing of that slot", async () => {
    const { engine, core } = fakeEngine();
    const failing = collectRun(engine, request({ grammar: { gbnf: "root ::= nope(" } }));
    await core.nextAdd();
    core.finish(0, "error", { message: "failed to parse grammar" });
    const error = await failing.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: "engine_error", message: expect.stringContaining("parse grammar") });

    const next = collectRun(engine, request());
    expect((await core.nextAdd(1)).reuse).toBe(0);
    core.finish(0, "length");
    await next;
  });

  it("on abort: cancels, ends 'cancelled' at once, and frees the slot only at the native finish", async () => {
    const { engine, core } = fakeEngine();
    const controller = new AbortController();
    const aborted = collectRun(engine, request(), controller.signal, () => controller.abort());
    await core.nextAdd();
    core.emit(0, [5]);
    const { finish, tokens } = await aborted;
    expect(tokens).toEqual([5]);
    expect(finish).toMatchObject({ reason: "cancelled", usage: { completionTokens: 1 } });
    expect(core.cancelled).toEqual([0]);

    // The core is still on the slot: a new request waits for it.
    expect(engine.health().activeSequences).toBe(1);
    const next = collectRun(engine, request());
    await nextTurn();
    expect(core.added).toHaveLength(1);
    core.finish(0, "cancelled", { tokens: [6] });
    expect((await core.nextAdd(1)).slot).toBe(0);
    core.finish(0, "length", { tokens: [7] });
    expect((await next).finish.reason).toBe("length");
    expect(engine.health().activeSequences).toBe(0);
  });

  it("cancels on an abort while waiting for a delivery", async () => {
    const { engine, core } = fakeEngine();
    const controller = new AbortController();
    const run = collectRun(engine, request(), controller.signal);
    await core.nextAdd();
    controller.abort();
    const { finish, tokens } = await run;
    expect(tokens).toEqual([]);
    expect(finish.reason).toBe("cancelled");
    expect(core.cancelled).toEqual([0]);
  });

  it("cancels when the consumer stops reading (return())", async () => {
    const { engine, core } = fakeEngine();
    const stream = engine.generate(request(), new AbortController().signal)[Symbol.asyncIterator]();
    const first = stream.next();
    await core.nextAdd();
    core.emit(0, [5, 6]);
    expect((await first).value).toEqual({ type: "tokens", tokens: [5, 6] });
    await stream.return(undefined);
    expect(core.cancelled).toEqual([0]);
    expect(core.isActive(0)).toBe(true);
  });

  it("ends 'cancelled' without touching the core when the signal is already aborted", async () => {
    const { engine, core } = fakeEngine();
    const { finish, tokens } = await collectRun(engine, request(), AbortSignal.abort());
    expect(tokens).toEqual([]);
    expect(finish.reason).toBe("cancelled");
    expect(core.added).toEqual([]);
    expect(engine.health().activeSequences).toBe(0);
  });

  it("reuses the cached prefix up to the finish's kvLength (tokens the stream never read included)", async () => {
    const { engine, core } = fakeEngine();
    const controller = new AbortController();
    const first = collectRun(engine, request(), controller.signal, () => controller.abort());
    await core.nextAdd();
    core.emit(0, [10]);
    await first;
    // Sampled after the stream ended; 12 was sampled but never decoded, so the cache ends at 11.
    core.finish(0, "cancelled", { tokens: [11, 12], kvLength: PROMPT.length + 2 });

    const followUp = collectRun(engine, request({ promptTokens: [...PROMPT, 10, 11, 12, 13] }));
    expect((await core.nextAdd(1)).reuse).toBe(PROMPT.length + 2);
    core.finish(0, "length", { tokens: [14] });
    expect((await followUp).finish.usage.cachedTokens).toBe(PROMPT.length + 2);
  });

  it("reuses all but the last token of a repeated prompt, and reports the cached tokens the core served", async () => {
    const { engine, core } = fakeEngine();
    const first = collectRun(engine, request());
    await core.nextAdd();
    core.finish(0, "length", { tokens: [10, 11] });
    expect((await first).finish.usage.cachedTokens).toBe(0);

    const again = collectRun(engine, request());
    expect((await core.nextAdd(1)).reuse).toBe(PROMPT.length - 1);
    core.finish(0, "length", { tokens: [10], cachedTokens: 2 });
    expect((await again).finish.usage.cachedTokens).toBe(2);
  });

  it("gives each concurrent request its own slot and routes deliveries by slot", async () => {
    const { engine, core } = fakeEngine({ sequences: 2 });
    const a = collectRun(engine, request({ promptTokens: [1, 2] }));
    const b = collectRun(engine, request({ promptTokens: [3, 4] }));
    const [addedA, addedB] = [await core.nextAdd(0), await core.nextAdd(1)];
    expect(new Set([addedA.slot, addedB.slot])).toEqual(new Set([0, 1]));
    core.emit(addedB.slot, [30]);
    core.emit(addedA.slot, [10]);
    core.finish(addedA.slot, "length", { tokens: [11] });
    core.finish(addedB.slot, "stop", { tokens: [9] });
    expect((await a).tokens).toEqual([10, 11]);
    expect((await b).tokens).toEqual([30, 9]);
  });

  it("sends no stop tokens under ignoreStopTokens, and minTokens as given", async () => {
    const { engine, core } = fakeEngine();
    const bias = new Map([[7, 3]]);
    const run = collectRun(
      engine,
      request({
        ignoreStopTokens: true,
        minTokens: 3,
        sampling: { ...request().sampling, logitBias: bias, seed: 42, temperature: 0.5 },
      }),
    );
    const added = await core.nextAdd();
    expect(Array.from(added.stopTokens)).toEqual([]);
    expect(added.minTokens).toBe(3);
    expect(added.grammar).toBeUndefined();
    expect(added.sampling).toMatchObject({ seed: 42, temperature: 0.5 });
    expect(Array.from(added.sampling.biasTokens)).toEqual([7]);
    expect(Array.from(added.sampling.biasValues)).toEqual([3]);
    core.finish(0, "length");
    await run;
  });

  it("under a grammar keeps stop tokens, drops minTokens and bans the other EOG tokens", async () => {
    const { engine, core } = fakeEngine({ eogTokens: [9, 99, 100] });
    const run = collectRun(
      engine,
      request({ grammar: { gbnf: 'root ::= "a"' }, ignoreStopTokens: true, minTokens: 3 }),
    );
    const added = await core.nextAdd();
    expect(added.grammar).toBe('root ::= "a"');
    expect(Array.from(added.stopTokens)).toEqual([9]);
    expect(added.minTokens).toBe(0);
    const bias = new Map(Array.from(added.sampling.biasTokens, (t, i) => [t, added.sampling.biasValues[i]]));
    expect(bias).toEqual(
      new Map([
        [99, -100],
        [100, -100],
      ]),
    );
    core.finish(0, "stop", { tokens: [9] });
    await run;
  });

  it("reports engine_error when the core refuses a request, and gives the slot back", async () => {
    const { engine, core } = fakeEngine();
    core.failNextAdd = new Error("slot 0 is busy");
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      message: expect.stringContaining("slot 0 is busy"),
    });
    expect(engine.health().activeSequences).toBe(0);
    const next = collectRun(engine, request());
    await core.nextAdd();
    core.finish(0, "length");
    expect((await next).finish.reason).toBe("length");
  });

  it("reports the core's last step time once it has stepped", async () => {
    const { engine, core } = fakeEngine();
    expect(engine.health()).toEqual({ status: "ready", activeSequences: 0 });
    core.lastStepMs = 12.5;
    const run = collectRun(engine, request());
    await core.nextAdd();
    core.finish(0, "length");
    await run;
    expect(engine.health().lastStepMs).toBe(12.5);
  });

  it("reports failed health with the core's failure once its loop failed, and refuses new requests", async () => {
    const { engine, core } = fakeEngine({ sequences: 2 });
    const running = collectRun(engine, request());
    await core.nextAdd();
    core.emit(0, [5]);
    expect(engine.health().status).toBe("ready");

    core.failForTest("std::bad_alloc");
    await expect(running).rejects.toMatchObject({
      code: "engine_error",
      message: expect.stringContaining("the decode loop failed: std::bad_alloc"),
    });
    expect(engine.health()).toEqual({
      status: "failed",
      activeSequences: 0,
      detail: "native core failed: std::bad_alloc",
    });
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      message: expect.stringContaining("the decode loop failed"),
    });
    // Still failed after the refusal gave the slot back: the state is the core's, not a request's.
    expect(engine.health()).toMatchObject({ status: "failed", activeSequences: 0 });
  });

  it("reports failed health 'non-finite logits' once the core ended a sequence on NaN logits", async () => {
    const { engine, core } = fakeEngine();
    const broken = collectRun(engine, request());
    await core.nextAdd();
    core.finishNonFinite(0);
    await expect(broken).rejects.toMatchObject({
      code: "engine_error",
      message: expect.stringContaining("non-finite logits"),
    });
    expect(engine.health()).toEqual({ status: "failed", activeSequences: 0, detail: "non-finite logits" });
  });

  it("stays ready after a request's own error (a grammar, a ban): only the core's state fails it", async () => {
    const { engine, core } = fakeEngine();
    const failing = collectRun(engine, request());
    await core.nextAdd();
    core.finish(0, "error", { message: "every token is excluded" });
    // The request's doing: a 400 (param logit_bias), not an engine failure counted toward readiness.
    await expect(failing).rejects.toMatchObject({ code: "invalid_value", param: "logit_bias" });
    expect(engine.health().status).toBe("ready");
  });

  it("a grammar llama.cpp cannot parse is an internal_error of that request, not an engine failure", async () => {
    const { engine, core } = fakeEngine();
    const failing = collectRun(engine, request({ grammar: { gbnf: "root ::= nope(" } }));
    await core.nextAdd();
    core.finish(0, "error", { message: "llama.cpp could not parse the grammar" });
    // Neither a worker restart nor readiness counts it (engine_error only): one client's schema
    // that our compiler got wrong must not take the engine down for everyone.
    await expect(failing).rejects.toMatchObject({ code: "internal_error" });
    expect(engine.health().status).toBe("ready");
  });

  it("close(): running and waiting streams end 'cancelled', the core closes, new requests are refused", async () => {
    const { engine, core, afterCloseCalls } = fakeEngine();
    const running = collectRun(engine, request());
    await core.nextAdd();
    core.emit(0, [5]);
    const waiting = collectRun(engine, request());
    await nextTurn();

    await Promise.all([engine.close(), engine.close()]);
    expect((await running).finish.reason).toBe("cancelled");
    expect((await waiting).finish.reason).toBe("cancelled");
    expect(core.cancelled).toEqual([0]);
    expect(core.closed).toBe(true);
    expect(afterCloseCalls()).toBe(1);
    expect(engine.health()).toMatchObject({ status: "failed", detail: "closed" });
    await expect(collectRun(engine, request())).rejects.toMatchObject({ code: "shutting_down" });
  });
});

// The real core on the tiny model. CI always builds the addon, so a missing one fails here (with
// createNativeEngine's message naming the build script) instead of skipping.

describeEngineContract("native (tiny model, CPU)", async () => ({
  engine: await createNativeEngine(await engineOptions()),
  prompt: TINY_PROMPT,
  vocabSize: VOCAB_SIZE,
  stopToken: RETURN_TOKEN,
}));

describe("native engine (tiny model, CPU)", () => {
  const tinyRequest = (overrides: Partial<GenerationRequest> = {}): GenerationRequest =>
    request({ promptTokens: TINY_PROMPT, stopTokens: [RETURN_TOKEN], maxTokens: 6, ...overrides });

  it("reports what it runs, reuses a previous turn as a prefix, and stops at the context size", async () => {
    const engine = await createNativeEngine({ ...(await engineOptions()), maxSequences: 2 });
    try {
      expect(engine.info).toMatchObject({
        name: "llama-cpp-native",
        gpuMode: "cpu",
        contextSize: 1024,
        maxSequences: 2,
        capabilities: { prefixCache: true, grammar: true },
      });

      const first = await collectRun(engine, tinyRequest({ maxTokens: 4 }));
      // The slot holds the prompt and all generated tokens but the last (never decoded).
      const followUp = [...TINY_PROMPT, ...first.tokens, 200_007, 200_006];
      const next = await collectRun(engine, tinyRequest({ promptTokens: followUp, maxTokens: 2 }));
      expect(next.finish.usage.cachedTokens).toBe(TINY_PROMPT.length + first.tokens.length - 1);

      const nearlyFull = Array.from({ length: 1020 }, (_, i) => 1000 + (i % 500));
      const full = await collectRun(engine, tinyRequest({ promptTokens: nearlyFull, maxTokens: 50 }));
      expect(full.finish.reason).toBe("length");
      expect(nearlyFull.length + full.tokens.length).toBe(1024);
    } finally {
      await engine.close();
    }
  });

  it("constrains output with a grammar and reports a grammar it cannot parse as an internal_error of that request", async () => {
    const engine = await createNativeEngine({ ...(await engineOptions()), maxSequences: 1 });
    try {
      // Token 1000 completes the grammar; then only an end-of-generation token may come, and every
      // one but the stop token <|return|> is banned: so exactly [1000, <|return|>], whatever the model.
      const run = await collectRun(
        engine,
        tinyRequest({ maxTokens: 5, grammar: { gbnf: "root ::= <[1000]>" } }),
      );
      expect(run.tokens).toEqual([1000, RETURN_TOKEN]);
      expect(run.finish).toMatchObject({ reason: "stop", stopToken: RETURN_TOKEN });

      await expect(
        collectRun(engine, tinyRequest({ grammar: { gbnf: "root ::= (" } })),
      ).rejects.toMatchObject({ code: "internal_error" });
      // The slot is usable again after the failure.
      expect((await collectRun(engine, tinyRequest({ maxTokens: 2 }))).finish.reason).toBe("length");
    } finally {
      await engine.close();
    }
  });

  it("a cancel that crosses its request's native finish does not cancel the slot's next request", async () => {
    // Two slots, prompts fed 1024 tokens per step. A (slot 0) finishes in the first step, beside the
    // first chunk of C's long prompt. The JS thread is held through that step, so A's consumer aborts
    // (core.cancel(0)) while A's finish waits in the core's outbox and the loop is in C's second
    // chunk. A's finish then frees slot 0 for B, which is added before the loop takes the cancel.
    const engine = await createNativeEngine({
      ...(await engineOptions()),
      maxSequences: 2,
      contextSizePerSequence: 4096,
      batchSize: 1024,
    });
    try {
      const chunk = (seed: number): number[] =>
        Array.from({ length: 1024 }, (_, i) => 1000 + ((i * 7 + seed * 13) % 5000));
      const started = performance.now();
      await collectRun(engine, tinyRequest({ promptTokens: chunk(0), maxTokens: 1 }));
      const stepMs = performance.now() - started;

      const controller = new AbortController();
      const a = collectRun(engine, tinyRequest({ maxTokens: 1 }), controller.signal);
      const long = [...chunk(1), ...chunk(2), ...chunk(3)];
      const c = collectRun(engine, tinyRequest({ promptTokens: long, maxTokens: 1 }));
      await nextTurn();
      const holdUntil = performance.now() + stepMs * 1.5;
      while (performance.now() < holdUntil);
      const b = collectRun(engine, tinyRequest({ maxTokens: 3 }));
      controller.abort();
      const [, runB] = await Promise.all([a, b, c]);
      expect(runB.finish.reason).toBe("length");
      expect(runB.tokens).toHaveLength(3);
    } finally {
      await engine.close();
    }
  });
});
