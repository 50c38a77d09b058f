/**
 * The native core's grammar mask cache (native/src/grammar_mask_cache.h) on the real addon and the
 * tiny model: a draw the grammar rejects near the start of a generation takes the allowed set from
 * the cache once a request with the same grammar has been through the same tokens, and the cached
 * set is the one the full check computes (a seeded request draws the same tokens cold and warm).
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

/** The tokens of a run, and how its rejected draws were served. */
async function run(req: GenerationRequest): Promise<{ tokens: number[]; full: number; hits: number }> {
  const before = core.stats();
  const { tokens } = await collectRun(engine, req);
  const after = core.stats();
  return {
    tokens,
    full: after.grammarFullChecks - before.grammarFullChecks,
    hits: after.grammarMaskHits - before.grammarMaskHits,
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
