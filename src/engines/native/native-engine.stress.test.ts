/**
 * Tries to break the native engine on the tiny model (CPU, one thread): concurrent churn with every
 * kind of abort and early exit, prefix reuse over histories it must not leak from, close() in the
 * middle of work, and input the core must refuse without taking the process down.
 *
 * The main oracle is greedy decoding: a prompt's greedy tokens must not depend on what the slot's
 * cache held before or on what ran beside it (kv_unified off: a sequence's attention reads only
 * its own cells). Every greedy run, cancelled ones included, must yield a prefix of its prompt's
 * reference. Runs forced by a logit bias check the routing and the stop rules exactly.
 *
 * Exactness has a llama.cpp limit, measured here: on the CPU a one-token micro-batch is multiplied
 * with ggml's vec_dot and a larger one with tinyBLAS (sgemm.cpp: "only enable sgemm for prompt
 * processing"), whose sums round differently; and with one KV stream per sequence llama.cpp splits
 * a batch into micro-batches of consecutive sequence ids (llama_batch_allocr::split_equal,
 * `sequential`), so which path a sequence's token takes depends on which other slots are busy. The
 * logits then differ in their last bits. Over the random model's nearly flat distributions that
 * moves a seeded draw every dozen tokens or so (so seeds are checked only where the steps are alike:
 * one slot, the cache erased first), and a greedy one rarely: of these prompts' first 60 greedy
 * tokens, one moved (prompt 1, token 20). Greedy references are trusted for their first
 * TRUSTED_TOKENS tokens.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCacheDir } from "../../config/defaults.ts";
import { ServerError } from "../../errors/server-error.ts";
import { ensureTinyModel } from "../../models/tiny-model.ts";
import { collectRun } from "../engine.contract.ts";
import type { Engine, GenerationEvent, GenerationRequest, SamplingParams } from "../engine.ts";
import { createNativeEngine, type NativeEngineOptions } from "./native-engine.ts";

const VOCAB_SIZE = 201_088;
/** <|return|>: the harmony token that ends a final answer. */
const RETURN_TOKEN = 200_002;
/** A short harmony-looking prompt, as in native-engine.test.ts. */
const TINY_PROMPT = [200_006, 1428, 200_008, 13_225, 11, 1495, 553, 481, 30, 200_007, 200_006, 173_781];
/** Longer than the engines' small batches here: prefilled in chunks, beside other sequences' decode. */
const LONG_PROMPT = Array.from({ length: 150 }, (_, i) => 1000 + ((i * 37) % 3000));
/** Shares no first token with the prompts above: a slot it ran on reuses nothing for them. */
const UNRELATED = [4000, 200_006, 4001, 200_008, 4002];
/** Reference runs are this long; no run asks for more. */
const REF_TOKENS = 40;
/** How much of a greedy reference the churn holds runs to (see the header). */
const TRUSTED_TOKENS = 16;
/** Token 1000, then only <|return|> may follow (every other end-of-generation token is banned). */
const GRAMMAR = { gbnf: "root ::= <[1000]>" };

const GREEDY: SamplingParams = {
  temperature: 0,
  topP: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  logitBias: new Map(),
};

async function engineOptions(overrides: Partial<NativeEngineOptions> = {}): Promise<NativeEngineOptions> {
  return {
    modelPath:
      process.env.GPTOSS_TINY_MODEL ??
      (await ensureTinyModel(process.env.GPTOSS_CACHE_DIR ?? defaultCacheDir())),
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    randomWeights: true,
    maxSequences: 4,
    contextSizePerSequence: 1024,
    gpuMode: "cpu",
    // One thread: llama.cpp's worker threads spin while waiting (engines/README.md).
    threads: 1,
    ...overrides,
  };
}

let requestCounter = 0;
const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: `stress-${++requestCounter}`,
  promptTokens: TINY_PROMPT,
  stopTokens: [],
  maxTokens: REF_TOKENS,
  sampling: GREEDY,
  ...overrides,
});

/** mulberry32: the churn is random but replayable from the seed its failure messages name. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Waits until every leased slot is back (a cancelled slot returns only at its native finish). */
async function expectIdle(engine: Engine): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (engine.health().activeSequences > 0 && performance.now() < deadline) await sleep(10);
  expect(engine.health().activeSequences).toBe(0);
}

/** How a run that ends on its own ends, given the tokens its sampling yields without stops. */
function naturalEnd(
  req: GenerationRequest,
  expected: readonly number[],
): { tokens: number[]; reason: string } {
  const stops = req.ignoreStopTokens === true ? [] : req.stopTokens;
  const minTokens = req.minTokens ?? 0;
  const stopAt = expected.findIndex((token, i) => stops.includes(token) && i + 1 >= minTokens);
  if (stopAt >= 0 && stopAt < req.maxTokens) return { tokens: expected.slice(0, stopAt + 1), reason: "stop" };
  return { tokens: expected.slice(0, req.maxTokens), reason: "length" };
}

/**
 * greedy: held to the prompt's reference; forced: a +100 logit bias on one token per run, sampled
 * at temperature 1, so every token is that one; seeded: temperature 0.9 with a seed (shape only);
 * grammar: exactly [1000, <|return|>]; the last two the core must refuse.
 */
type Kind = "greedy" | "forced" | "seeded" | "grammar" | "badGrammar" | "badToken";
type Behaviour = "read" | "abortBefore" | "abortTimer" | "abortMid" | "abortAfter" | "break";
const ABORTS: readonly Behaviour[] = ["abortBefore", "abortTimer", "abortMid"];

interface ChurnRun {
  req: GenerationRequest;
  kind: Kind;
  /** The tokens the run yields without stop tokens (greedy and forced runs), REF_TOKENS long. */
  expected?: number[];
  /** How many of `expected` are certain. */
  trusted: number;
  behaviour: Behaviour;
  /** Awaits between events: deliveries pile up, and aborts land while the consumer is away. */
  slow: boolean;
  /** Tokens after which abortMid aborts and break leaves the loop. */
  after: number;
  abortReason: unknown;
  startDelay: number;
  abortDelay: number;
  label: string;
}

interface ChurnOutcome {
  events: GenerationEvent[];
  tokens: number[];
  /** The consumer left the loop early (it sees no finish). */
  broke: boolean;
  error?: unknown;
}

/** Consumes one generation the way the run says; never throws (an error is part of the outcome). */
async function consume(engine: Engine, run: ChurnRun): Promise<ChurnOutcome> {
  if (run.startDelay > 0) await sleep(run.startDelay);
  const controller = new AbortController();
  const abort = (): void => controller.abort(run.abortReason);
  const outcome: ChurnOutcome = { events: [], tokens: [], broke: false };
  if (run.behaviour === "abortBefore") abort();
  const timer = run.behaviour === "abortTimer" ? setTimeout(abort, run.abortDelay) : undefined;
  try {
    for await (const event of engine.generate(run.req, controller.signal)) {
      outcome.events.push(event);
      if (event.type !== "tokens") continue;
      outcome.tokens.push(...event.tokens);
      if (run.behaviour === "abortMid" && outcome.tokens.length >= run.after) abort();
      if (run.behaviour === "break" && outcome.tokens.length >= run.after) {
        outcome.broke = true;
        break;
      }
      if (run.slow) await sleep(3);
    }
  } catch (error) {
    outcome.error = error;
  }
  clearTimeout(timer);
  // Right after the finish: an abort the engine must ignore.
  if (run.behaviour === "abortAfter") abort();
  return outcome;
}

/** Every assertion on one churn run's outcome; `where` names it in failures. */
function checkOutcome(run: ChurnRun, outcome: ChurnOutcome, where: string): void {
  const { req, kind, expected, trusted, behaviour } = run;
  const { events, tokens } = outcome;

  if (outcome.error !== undefined) {
    // Only requests the core must refuse fail, with engine_error, and before any token.
    expect(["badGrammar", "badToken"], where).toContain(kind);
    expect(outcome.error, where).toBeInstanceOf(ServerError);
    expect(outcome.error, where).toMatchObject({ code: "engine_error" });
    expect(events, where).toEqual([]);
    return;
  }
  expect(tokens.length, where).toBeLessThanOrEqual(req.maxTokens);
  for (const token of tokens) {
    expect(Number.isInteger(token) && token >= 0 && token < VOCAB_SIZE, where).toBe(true);
  }
  for (const event of events) {
    if (event.type === "tokens") expect(event.tokens.length, where).toBeGreaterThan(0);
  }
  // Whatever ended the run, what it yielded is what its prompt gives: no crossed slot, no stale cache.
  if (expected !== undefined) {
    const certain = Math.min(tokens.length, trusted);
    expect(tokens.slice(0, certain), where).toEqual(expected.slice(0, certain));
  }
  if (kind === "grammar") expect(tokens, where).toEqual([1000, RETURN_TOKEN].slice(0, tokens.length));

  const finishes = events.filter((e) => e.type === "finish");
  if (outcome.broke) {
    expect(finishes, where).toHaveLength(0);
    return;
  }
  expect(finishes, where).toHaveLength(1);
  const finish = events.at(-1);
  if (finish?.type !== "finish") throw new Error(`${where}: the last event is not the finish`);
  expect(finish.usage.completionTokens, where).toBe(tokens.length);
  expect(finish.usage.promptTokens, where).toBe(req.promptTokens.length);
  expect(finish.usage.cachedTokens, where).toBeLessThan(req.promptTokens.length);
  if (behaviour === "abortBefore") expect(finish.reason, where).toBe("cancelled");
  if (finish.reason === "cancelled") {
    // Only an abort may cancel a run; a refused request that ends without error was aborted first.
    expect(ABORTS, where).toContain(behaviour);
    if (behaviour === "abortBefore") expect(tokens, where).toEqual([]);
    return;
  }
  expect(["badGrammar", "badToken"], where).not.toContain(kind);
  if (expected !== undefined) {
    const natural = naturalEnd(req, expected);
    if (natural.tokens.length <= trusted) {
      expect(finish.reason, where).toBe(natural.reason);
      expect(tokens, where).toEqual(natural.tokens);
    }
  }
  if (kind === "grammar") {
    // Under a grammar the stop token always ends it: ignoreStopTokens and minTokens do not apply.
    expect(tokens, where).toEqual([1000, RETURN_TOKEN].slice(0, req.maxTokens));
  }
  if (finish.reason === "length") expect(tokens, where).toHaveLength(req.maxTokens);
  if (finish.reason === "stop") {
    expect(finish.stopToken, where).toBe(tokens.at(-1));
    expect(req.stopTokens, where).toContain(finish.stopToken);
    if (kind !== "grammar") {
      expect(req.ignoreStopTokens, where).not.toBe(true);
      expect(tokens.length, where).toBeGreaterThanOrEqual(req.minTokens ?? 0);
    }
  } else {
    expect(finish.stopToken, where).toBeUndefined();
  }
}

describe("native engine stress: churn on 4 slots (tiny model, CPU)", () => {
  let engine: Engine;
  /** Prompts that share prefixes with each other in every way prefix reuse has to handle. */
  const prompts = [
    TINY_PROMPT,
    [...TINY_PROMPT, 1000, 1001],
    [...TINY_PROMPT, 1000, 1002, 1003],
    TINY_PROMPT.slice(0, 6),
    [200_006, 2000, 200_008, 3000, 3001, 3002],
    LONG_PROMPT,
    [...LONG_PROMPT, 5, 6, 7],
  ];
  /** refs[i]: the greedy tokens of prompts[i], run alone before the churn. */
  const refs: number[][] = [];
  const trustedRefs = (): number[][] => refs.map((ref) => ref.slice(0, TRUSTED_TOKENS));

  beforeAll(async () => {
    // A batch smaller than LONG_PROMPT: prompts are prefilled in chunks between decode steps.
    engine = await createNativeEngine(await engineOptions({ batchSize: 64 }));
    for (const promptTokens of prompts) {
      refs.push((await collectRun(engine, request({ promptTokens }))).tokens);
    }
  });

  afterAll(async () => {
    await engine.close();
  });

  it("has references the churn can tell apart", () => {
    for (const ref of refs) expect(ref).toHaveLength(REF_TOKENS);
    // Different prompts must give different outputs, or a crossed slot would go unnoticed.
    expect(new Set(trustedRefs().map((ref) => ref.join())).size).toBe(prompts.length);
  });

  /** 40 random runs from `seed`. */
  function churnRuns(seed: number): ChurnRun[] {
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const kinds: Kind[] = ["greedy", "greedy", "greedy", "greedy", "forced", "forced", "seeded", "grammar"];
    const behaviours: Behaviour[] = [
      "read",
      "read",
      "abortBefore",
      "abortTimer",
      "abortMid",
      "abortAfter",
      "break",
    ];
    return Array.from({ length: 40 }, (_, i): ChurnRun => {
      const promptIndex = Math.floor(random() * prompts.length);
      const prompt = prompts[promptIndex] as number[];
      const roll = random();
      const kind: Kind = roll < 0.05 ? "badGrammar" : roll < 0.1 ? "badToken" : pick(kinds);
      // Each forced run its own token: a delivery routed to the wrong stream shows at once.
      const forcedToken = 50_000 + seed * 100 + i;
      const expected =
        kind === "greedy"
          ? refs[promptIndex]
          : kind === "forced"
            ? Array.from({ length: REF_TOKENS }, () => forcedToken)
            : undefined;
      const trusted = kind === "forced" ? REF_TOKENS : TRUSTED_TOKENS;
      const maxTokens = 1 + Math.floor(random() * REF_TOKENS);
      // Stop on a token the run really produces (a trusted one), so that "stop" and minTokens are hit.
      const stopTokens =
        expected !== undefined && random() < 0.6 ? [pick(expected.slice(0, trusted))] : [RETURN_TOKEN];
      const sampling: SamplingParams =
        kind === "forced"
          ? { ...GREEDY, temperature: 1, logitBias: new Map([[forcedToken, 100]]) }
          : kind === "seeded"
            ? { ...GREEDY, temperature: 0.9, seed: 7, ...(random() < 0.5 ? { presencePenalty: 0.5 } : {}) }
            : GREEDY;
      const req = request({
        promptTokens: kind === "badToken" ? [...prompt, 10_000_000] : prompt,
        sampling,
        stopTokens,
        maxTokens,
        ...(kind === "grammar" || kind === "badGrammar"
          ? { grammar: kind === "grammar" ? GRAMMAR : { gbnf: "root ::= (" } }
          : {}),
        ...(random() < 0.25 ? { ignoreStopTokens: true } : {}),
        ...(random() < 0.25 ? { minTokens: Math.floor(random() * 6) } : {}),
        priority: Math.floor(random() * 3),
      });
      const behaviour = pick(behaviours);
      return {
        req,
        kind,
        ...(expected !== undefined ? { expected } : {}),
        trusted,
        behaviour,
        slow: random() < 0.25,
        after: 1 + Math.floor(random() * maxTokens),
        // A string reason too: the engine must not depend on the reason being an Error.
        abortReason: random() < 0.5 ? undefined : "client went away",
        startDelay: random() < 0.5 ? 0 : random() * 40,
        abortDelay: random() * 60,
        label: `run ${i}: ${kind} on prompt ${promptIndex}, ${behaviour}, maxTokens ${maxTokens}`,
      };
    });
  }

  it.each([1, 2, 3, 4, 5])(
    "40 concurrent requests: aborts, early exits, stops, seeds, grammars, errors (round %i)",
    async (round) => {
      const seed = 1000 + round;
      const runs = churnRuns(seed);
      const outcomes = await Promise.all(runs.map((run) => consume(engine, run)));
      runs.forEach((run, i) => checkOutcome(run, outcomes[i] as ChurnOutcome, `seed ${seed}, ${run.label}`));
      // The mix really happened: a check that passes on runs that all cancelled would prove little.
      const ends = outcomes
        .map((o) => o.events.at(-1))
        .map((e) => (e?.type === "finish" ? e.reason : "none"));
      expect(new Set(ends)).toEqual(new Set(["length", "stop", "cancelled", "none"]));
      await expectIdle(engine);
    },
  );

  it("afterwards: no slot leaked, and every prompt gives its reference again, alone and all at once", async () => {
    await expectIdle(engine);
    // Prompt 0's greedy tokens moved under no step mix tried (see the header): all of them.
    expect((await collectRun(engine, request({ sampling: { ...GREEDY, seed: 1234 } }))).tokens).toEqual(
      refs[0],
    );
    const again = await Promise.all(
      prompts.map(async (promptTokens) => (await collectRun(engine, request({ promptTokens }))).tokens),
    );
    expect(again.map((tokens) => tokens.slice(0, TRUSTED_TOKENS))).toEqual(trustedRefs());
    await expectIdle(engine);
  });
});

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
    // batch where the reference decoded them one per step (see the header).
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

  it("logit_bias on ids outside the vocabulary is ignored; banning every token is an engine_error", async () => {
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
      code: "engine_error",
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
    const tooLong = Array.from({ length: 1023 }, (_, i) => 1000 + i);
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
