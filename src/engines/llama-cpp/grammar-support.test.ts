/**
 * Grammar-constrained generation through the real engine (tiny random-weight model, CPU): the
 * grammar decides every token, end-of-generation tokens outside stopTokens are never sampled, and
 * a stop token ends a constrained generation even with ignoreStopTokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCacheDir } from "../../config/defaults.ts";
import { ensureTinyModel } from "../../models/tiny-model.ts";
import type { Engine, GenerationRequest } from "../engine.ts";
import { collectRun } from "../engine.contract.ts";
import { withEogBans } from "./grammar-support.ts";
import { createLlamaCppEngine } from "./llama-cpp-engine.ts";

const RETURN = 200_002;
const CALL = 200_012;
const END_OF_TEXT = 199_999;
const PROMPT = [200_006, 1428, 200_008, 13_225, 200_007, 200_006, 173_781];

let engine: Engine;
beforeAll(async () => {
  engine = await createLlamaCppEngine({
    modelPath: process.env["GPTOSS_TINY_MODEL"] ?? (await ensureTinyModel(defaultCacheDir())),
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    randomWeights: true,
    maxSequences: 1,
    contextSizePerSequence: 512,
    gpuMode: "cpu",
    threads: 1,
  });
}, 120_000);
afterAll(async () => {
  await engine?.close();
});

const request = (gbnf: string, over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "grammar-test",
  promptTokens: PROMPT,
  stopTokens: [RETURN, CALL],
  maxTokens: 12,
  sampling: {
    temperature: 1,
    topP: 1,
    seed: 3,
    presencePenalty: 0,
    frequencyPenalty: 0,
    logitBias: new Map(),
  },
  grammar: { gbnf },
  ...over,
});

describe("llama-cpp engine with a grammar", () => {
  it("reports the capability", () => {
    expect(engine.info.capabilities.grammar).toBe(true);
  });

  it("forces token references and text, then ends on an allowed stop token", async () => {
    const run = await collectRun(
      engine,
      request('root ::= <[200005]> "final" <[200008]> ( "yes" | "no" )', { stopTokens: [RETURN] }),
    );
    expect(run.tokens[0]).toBe(200_005);
    // "final" in whatever pieces the model picks, then <|message|>, then "yes" or "no".
    const message = run.tokens.indexOf(200_008);
    expect(message).toBeGreaterThanOrEqual(2);
    expect(run.tokens.slice(1, message).every((t) => t < 199_998)).toBe(true);
    // <|endoftext|> and <|call|> are end-of-generation tokens too; only <|return|> may end this one.
    expect(run.tokens.at(-1)).toBe(RETURN);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: RETURN });
  }, 60_000);

  it("a stop token ends a constrained generation even with ignoreStopTokens and minTokens", async () => {
    const run = await collectRun(
      engine,
      request('root ::= "ok"', { ignoreStopTokens: true, minTokens: 10, stopTokens: [CALL], maxTokens: 8 }),
    );
    expect(run.tokens.at(-1)).toBe(CALL);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: CALL });
    expect(run.tokens.length).toBeLessThanOrEqual(3);
  }, 60_000);

  it("an unparsable grammar fails the request with an engine error, and the engine goes on", async () => {
    await expect(collectRun(engine, request("root ::= (("))).rejects.toMatchObject({ code: "engine_error" });
    const run = await collectRun(engine, request('root ::= "a"', { stopTokens: [RETURN] }));
    expect(run.finish.reason).toBe("stop");
  }, 60_000);
});

describe("withEogBans", () => {
  it("bans end-of-generation tokens the request does not stop on, keeping the client's bias", () => {
    const bias = withEogBans(new Map([[5, 2]]), [END_OF_TEXT, RETURN, CALL], [RETURN]);
    expect([...bias]).toEqual([
      [5, 2],
      [END_OF_TEXT, -100],
      [CALL, -100],
    ]);
  });
});
