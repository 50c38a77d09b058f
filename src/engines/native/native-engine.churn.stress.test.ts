/**
 * Concurrent churn on the native engine's 4 slots (tiny model, CPU, one thread): 40 random
 * requests a round with every kind of abort and early exit, beside stops, seeds, grammars and
 * requests the core must refuse; afterwards no slot may be leaked and every prompt must give its
 * reference again. The oracle and its exactness limit: tiny-engine-support.ts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerError } from "../../errors/server-error.ts";
import { collectRun } from "../engine.contract.ts";
import type { Engine, GenerationEvent, GenerationRequest, SamplingParams } from "../engine.ts";
import { createNativeEngine } from "./native-engine.ts";
import {
  engineOptions,
  expectIdle,
  GRAMMAR,
  GREEDY,
  LONG_PROMPT,
  REF_TOKENS,
  request,
  RETURN_TOKEN,
  seededRandom,
  TINY_PROMPT,
  TRUSTED_TOKENS,
  VOCAB_SIZE,
} from "./tiny-engine-support.ts";

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
    // Only requests the core must refuse fail, before any token: a grammar llama.cpp cannot parse
    // as that request's internal_error (not the engine's), a bad token as engine_error.
    expect(["badGrammar", "badToken"], where).toContain(kind);
    expect(outcome.error, where).toBeInstanceOf(ServerError);
    expect(outcome.error, where).toMatchObject({
      code: kind === "badGrammar" ? "internal_error" : "engine_error",
    });
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
    // With stream compaction on (off by default until measured on a GPU): the churn leaves gaps
    // between busy slots, so sequences move between streams under cancels, stops and errors, and the
    // references below must still hold.
    // A batch smaller than LONG_PROMPT: prompts are prefilled in chunks between decode steps.
    engine = await createNativeEngine(await engineOptions({ batchSize: 64, compactStreams: true }));
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
    // Prompt 0's greedy tokens moved under no step mix tried (see tiny-engine-support.ts): all of them.
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
