/**
 * The native core's grammar mask cache (native/src/grammar_mask_cache.h) on the real addon and the
 * tiny model: a draw the grammar rejects near the start of a generation takes the allowed set from
 * the cache once a request with the same grammar has been through the same tokens, and the cached
 * set is the one the full check computes (a seeded request draws the same tokens cold and warm,
 * also where jump-forward takes the tokens the grammar forces without a draw).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest } from "../engine.ts";
import type { NativeCore } from "./native-core.ts";
import type { NativeEngine } from "./native-engine.ts";
import { engineOverRealCore } from "./real-core-for-test.ts";
import { GREEDY, request, RETURN_TOKEN, TINY_PROMPT } from "./tiny-engine-support.ts";

/** Lower-case letters: most of the random model's draws (any of 201,088 tokens) are rejected. */
const LETTERS = 'root ::= [a-z]+ "."';
const DIGITS = 'root ::= [0-9]+ "."';

let engine: NativeEngine;
let core: NativeCore;

beforeAll(async () => {
  ({ engine, core } = await engineOverRealCore(1));
});
afterAll(async () => {
  await engine?.close();
});

const seeded = (gbnf: string, seed: number, maxTokens = 8): GenerationRequest =>
  request({
    promptTokens: TINY_PROMPT,
    stopTokens: [RETURN_TOKEN],
    maxTokens,
    sampling: { ...GREEDY, temperature: 1, seed },
    grammar: { gbnf },
  });

/** The tokens of a run, how its rejected draws were served, its forced tokens and its decode steps. */
async function run(
  req: GenerationRequest,
): Promise<{ tokens: number[]; full: number; hits: number; forced: number; steps: number }> {
  const before = core.stats();
  const { tokens } = await collectRun(engine, req);
  const after = core.stats();
  return {
    tokens,
    full: after.grammarFullChecks - before.grammarFullChecks,
    hits: after.grammarMaskHits - before.grammarMaskHits,
    forced: after.grammarForcedTokens - before.grammarForcedTokens,
    steps: after.steps - before.steps,
  };
}

describe("native core: grammar mask cache (tiny model, CPU)", () => {
  it("pays for a grammar's full checks once; the same grammar and tokens then come from the cache, drawing the same", async () => {
    const cold = await run(seeded(LETTERS, 11));
    expect(cold.tokens.length).toBeGreaterThan(0);
    expect(cold.full).toBeGreaterThan(0);
    expect(cold.hits).toBe(0);

    // The same seed draws the same tokens, so every rejection meets a state the first run stored.
    const warm = await run(seeded(LETTERS, 11));
    expect(warm.tokens).toEqual(cold.tokens);
    expect(warm.full).toBe(0);
    expect(warm.hits).toBe(cold.full);
  });

  it("keys the sets by the grammar's text: another grammar's first rejection is a full check", async () => {
    await run(seeded(LETTERS, 21));
    const other = await run(seeded(DIGITS, 21));
    expect(other.full).toBeGreaterThan(0);
    // Another seed with the first grammar: at least its first rejection (no token accepted yet) hits.
    const again = await run(seeded(LETTERS, 22));
    expect(again.hits).toBeGreaterThan(0);
  });
});

describe("native core: the full grammar check split across the sampler pool", () => {
  it("allows the same tokens as the check on one thread: greedy runs under a grammar agree", async () => {
    // Greedy under a grammar draws the highest allowed logit, whatever the sampling path: a token
    // the split check wrongly allowed or refused would show as a different run.
    const pooled = await engineOverRealCore(1, 4);
    try {
      for (const gbnf of [LETTERS, DIGITS, 'root ::= ("yes" | "no" | "maybe") " " [A-Z]+']) {
        const req = { ...seeded(gbnf, 1, 6), sampling: GREEDY };
        const before = pooled.core.stats();
        const split = await collectRun(pooled.engine, req);
        expect(pooled.core.stats().grammarFullChecks - before.grammarFullChecks).toBeGreaterThan(0);
        const serial = await collectRun(engine, { ...req, id: `${req.id}-serial` });
        expect(split.tokens, gbnf).toEqual(serial.tokens);
      }
    } finally {
      await pooled.engine.close();
    }
  });
});

describe("native core: tokens a grammar forces are taken without a draw (jump-forward)", () => {
  // Three tokens the grammar fixes, then free letters.
  const FORCED = 'root ::= <[1000]> <[1001]> <[1002]> [a-z]+ "."';

  it("once the cache knows those states, a request gets them with its prompt: three steps fewer, the same tokens", async () => {
    // Cold: each fixed position is a rejected draw and a full check, one step a token.
    const cold = await run(seeded(FORCED, 31));
    expect(cold.tokens.slice(0, 3)).toEqual([1000, 1001, 1002]);
    expect(cold.forced).toBe(0);
    expect(cold.steps).toBe(cold.tokens.length);
    // Warm, the same seed: the three are forced before the prompt is read and go in with it, and the
    // draws after them are the cold run's (a seeded request draws each position from its own
    // generator: forcing, which takes no draw, shifts nothing).
    const warm = await run(seeded(FORCED, 31));
    expect(warm.forced).toBe(3);
    expect(warm.steps).toBe(warm.tokens.length - 3);
    expect(warm.tokens).toEqual(cold.tokens);
  });

  it("ends at the context's end where the sampled path does (greedy, cold and warm)", async () => {
    // A prompt that leaves room for a few tokens of the 1,024-token context.
    const long = Array.from({ length: 1019 }, (_, i) => 1000 + ((i * 7) % 5000));
    const req = (id: string): GenerationRequest => ({
      ...seeded('root ::= <[2000]> <[2001]> <[2002]> <[2003]> [a-z]+ "."', 1, 20),
      id,
      promptTokens: long,
      sampling: GREEDY,
    });
    const cold = await collectRun(engine, req("ctx-cold"));
    const warm = await collectRun(engine, req("ctx-warm"));
    expect(cold.finish.reason).toBe("length");
    expect(long.length + cold.tokens.length).toBe(1024);
    expect(warm.tokens).toEqual(cold.tokens);
    expect(warm.finish.reason).toBe("length");
  });

  it("forces nothing for a request that asked for logprobs: every token keeps its own", async () => {
    await run(seeded(FORCED, 33));
    const before = core.stats().grammarForcedTokens;
    const { tokens, events } = await collectRun(engine, { ...seeded(FORCED, 34), logprobs: 0 });
    expect(core.stats().grammarForcedTokens).toBe(before);
    expect(tokens.slice(0, 3)).toEqual([1000, 1001, 1002]);
    const logprobs = events.flatMap((e) => (e.type === "tokens" ? (e.logprobs ?? []) : []));
    expect(logprobs).toHaveLength(tokens.length);
  });

  it("does not force a token the request's logit_bias bans: the request fails as it would without", async () => {
    await run(seeded(FORCED, 35));
    const banned = seeded(FORCED, 36);
    banned.sampling = { ...banned.sampling, logitBias: new Map([[1000, -100]]) };
    const before = core.stats().grammarForcedTokens;
    await expect(collectRun(engine, banned)).rejects.toThrow(/every token is excluded/);
    expect(core.stats().grammarForcedTokens).toBe(before);
  });
});

describe("native core: rejected draws of many sequences, checked after the step's parallel pass", () => {
  it("every sequence's tokens keep to its grammar (four at once on a two-thread pool)", async () => {
    // Four sequences on two sampler threads: one sequence a thread, so a rejected draw's full check
    // waits for the pass to end and then runs across the pool. Only 3 of 201,088 tokens are allowed
    // after the first: nearly every draw is rejected.
    const many = await engineOverRealCore(4, 2);
    try {
      const gbnf = "root ::= <[1000]> (<[1001]> | <[1002]> | <[1003]>)+";
      const before = many.core.stats();
      const runs = await Promise.all(
        [41, 42, 43, 44].map((seed) => collectRun(many.engine, seeded(gbnf, seed, 10))),
      );
      for (const { tokens } of runs) {
        // The grammar may end after any choice: <|return|>, the stop token, then closes the run.
        const body = tokens.at(-1) === RETURN_TOKEN ? tokens.slice(0, -1) : tokens;
        expect(body.length).toBeGreaterThan(1);
        expect(body[0]).toBe(1000);
        for (const token of body.slice(1)) expect([1001, 1002, 1003]).toContain(token);
      }
      // The draws were rejected and checked in full (the first token's set may come from the cache).
      expect(many.core.stats().grammarFullChecks - before.grammarFullChecks).toBeGreaterThan(4);
    } finally {
      await many.engine.close();
    }
  });
});
