/**
 * The harmony output grammar, checked token by token by llama.cpp's grammar sampler over the real
 * vocabulary (the tiny model carries o200k_harmony): harmony outputs built with the real tokenizer
 * are accepted exactly where the request allows them, and the constrained regions reject what they
 * must. Structure (which stops are banned, when no grammar is needed) is checked without llama.
 */
import {
  getLlama,
  LlamaGrammarEvaluationState,
  type Llama,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultCacheDir } from "../config/defaults.ts";
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { getHarmonyTokenizer } from "../harmony/tokenizer.ts";
import { ensureTinyModel } from "../models/tiny-model.ts";
import { buildOutputConstraint, type OutputConstraintInput } from "./harmony-grammar.ts";
import type { DomainFunctionTool } from "./serving-request.ts";

const weather: DomainFunctionTool = {
  name: "get_weather",
  parameters: {
    type: "object",
    properties: { location: { type: "string" }, unit: { enum: ["c", "f"] } },
    required: ["location"],
  },
};
const search: DomainFunctionTool = { name: "search" };
const verdict = {
  type: "json_schema" as const,
  name: "verdict",
  strict: true,
  schema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
};

const input = (over: Partial<OutputConstraintInput>): OutputConstraintInput => ({
  tools: [],
  toolChoice: "auto",
  responseFormat: { type: "text" },
  ...over,
});

describe("buildOutputConstraint: what gets constrained", () => {
  it("needs no grammar for plain text without callable tools", () => {
    expect(buildOutputConstraint(input({}))).toBeUndefined();
    expect(buildOutputConstraint(input({ tools: [weather], toolChoice: "none" }))).toBeUndefined();
  });

  it("bans the stop token the request cannot end with", () => {
    const required = buildOutputConstraint(input({ tools: [weather], toolChoice: "required" }));
    expect(required?.bannedStopTokens).toEqual([SPECIAL_TOKENS.return]);
    expect(required?.required).toBe(true);
    const json = buildOutputConstraint(input({ responseFormat: verdict }));
    expect(json?.bannedStopTokens).toEqual([SPECIAL_TOKENS.call]);
    const auto = buildOutputConstraint(input({ tools: [weather] }));
    expect(auto?.bannedStopTokens).toEqual([]);
    expect(auto?.required).toBe(false);
  });

  it("offers only the named function, and a final answer only when no call is required", () => {
    const named = buildOutputConstraint(input({ tools: [weather, search], toolChoice: { name: "search" } }));
    expect(named?.grammar.gbnf).toContain('" to=functions.search"');
    expect(named?.grammar.gbnf).not.toContain("get_weather");
    expect(named?.grammar.gbnf).not.toContain("h-final");
    const auto = buildOutputConstraint(input({ tools: [weather, search] }));
    expect(auto?.grammar.gbnf).toMatch(/h-end ::= h-final \| h-call-0 \| h-call-1/);
  });
});

const spawn: DomainFunctionTool = {
  name: "spawn_agent",
  namespace: "multi_agent_v1",
  parameters: { type: "object", properties: { task: { type: "string" } }, required: ["task"] },
};
const patch: DomainFunctionTool = { name: "apply_patch", freeform: { type: "text" } };

describe("buildOutputConstraint: namespaced and freeform tools", () => {
  it("calls a namespaced tool through its own namespace, and a choice names it by its key", () => {
    const gbnf = buildOutputConstraint(input({ tools: [weather, spawn] }))!.grammar.gbnf;
    expect(gbnf).toContain('" to=multi_agent_v1.spawn_agent"');
    expect(gbnf).toContain('" to=functions.get_weather"');
    const named = buildOutputConstraint(
      input({ tools: [weather, spawn], toolChoice: { name: "multi_agent_v1.spawn_agent" } }),
    );
    expect(named?.grammar.gbnf).toContain("spawn_agent");
    expect(named?.grammar.gbnf).not.toContain("get_weather");
  });

  it("a freeform tool's input is free text", () => {
    const gbnf = buildOutputConstraint(input({ tools: [patch], toolChoice: "required" }))!.grammar.gbnf;
    expect(gbnf).toMatch(/h-call-0 ::= .*" to=functions.apply_patch" h-constrain <\[\d+\]> h-free/);
  });
});

describe("the grammar over real harmony tokens (llama.cpp's sampler)", () => {
  let llama: Llama;
  let model: LlamaModel;
  const tokenizer = getHarmonyTokenizer();
  const eog = new Set<number>([SPECIAL_TOKENS.return, SPECIAL_TOKENS.call, SPECIAL_TOKENS.endOfText]);

  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
    const path = process.env["GPTOSS_TINY_MODEL"] ?? (await ensureTinyModel(defaultCacheDir()));
    model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  }, 120_000);
  afterAll(async () => {
    await model?.dispose();
  });

  /** Index of the first token the grammar refuses, or -1 when it takes them all. */
  async function firstRejected(over: Partial<OutputConstraintInput>, harmony: string): Promise<number> {
    const gbnf = buildOutputConstraint(input(over))!.grammar.gbnf;
    const state = new LlamaGrammarEvaluationState({
      model,
      grammar: await llama.createGrammar({ grammar: gbnf }),
    });
    // node-llama-cpp's internal bindings: the same calls its sampler makes per token.
    const sampler = (llama as unknown as { _bindings: { AddonSampler: SamplerStatics } })._bindings
      .AddonSampler;
    const native = (state as unknown as { _state: unknown })._state;
    const tokens = tokenizer.encodeWithSpecials(harmony);
    for (const [i, token] of tokens.entries()) {
      if (!sampler.canBeNextTokenForGrammarEvaluationState(native, token as Token)) return i;
      if (!eog.has(token)) sampler.acceptGrammarEvaluationStateToken(native, token as Token);
    }
    return -1;
  }
  interface SamplerStatics {
    canBeNextTokenForGrammarEvaluationState(state: unknown, token: Token): boolean;
    acceptGrammarEvaluationStateToken(state: unknown, token: Token): void;
  }

  const analysis = "<|channel|>analysis<|message|>User wants weather. a<b, x << y.<|end|><|start|>assistant";

  it("takes reasoning, then a tool call in every header form gpt-oss writes", async () => {
    const tools = { tools: [weather], toolChoice: "required" as const };
    const args = '{"location": "Paris", "unit": "c"}';
    for (const header of [
      "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>",
      "<|channel|>commentary to=functions.get_weather json<|message|>",
      " to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>",
      "<|channel|>analysis to=functions.get_weather<|message|>",
    ]) {
      expect(await firstRejected(tools, `${analysis}${header}${args}<|call|>`), header).toBe(-1);
    }
    // A preamble may announce the call; no analysis at all is fine too.
    const preamble = "<|channel|>commentary<|message|>Checking.<|end|><|start|>assistant";
    expect(
      await firstRejected(
        tools,
        `${preamble}<|channel|>commentary to=functions.get_weather<|message|>${args}<|call|>`,
      ),
    ).toBe(-1);
  }, 60_000);

  it("constrains the arguments, not the reasoning", async () => {
    const tools = { tools: [weather], toolChoice: "required" as const };
    const head = `${analysis}<|channel|>commentary to=functions.get_weather<|message|>`;
    const bad = `${head}{"unit": "c"}<|call|>`; // location missing: '"unit' cannot start the object
    const at = await firstRejected(tools, bad);
    expect(at).toBeGreaterThan(tokenizer.encodeWithSpecials(head).length);
    // Stopping early is refused: the call is incomplete.
    expect(await firstRejected(tools, `${head}{"location": "Paris"<|call|>`)).toBeGreaterThan(0);
    // A required call cannot be skipped for a final answer, nor go to an unknown function.
    expect(await firstRejected(tools, `${analysis}<|channel|>final<|message|>Hi<|return|>`)).toBeGreaterThan(
      0,
    );
    expect(
      await firstRejected(tools, `${analysis}<|channel|>commentary to=functions.other<|message|>{}<|call|>`),
    ).toBeGreaterThan(0);
  }, 60_000);

  it("keeps control tokens out of free text (they would desynchronise the parser)", async () => {
    const before = "<|channel|>analysis<|message|>think";
    const sneaky = `${before}<|channel|>final<|message|>{}<|end|>`;
    // Refused exactly at the <|channel|> inside the analysis.
    expect(await firstRejected({ responseFormat: verdict }, sneaky)).toBe(
      tokenizer.encodeWithSpecials(before).length,
    );
  }, 60_000);

  it("json_schema: reasoning free, the final body JSON under the schema, then <|return|>", async () => {
    const json = { responseFormat: verdict };
    expect(await firstRejected(json, `${analysis}<|channel|>final<|message|>{"ok": true}<|return|>`)).toBe(
      -1,
    );
    expect(await firstRejected(json, `<|channel|>final<|message|>{"ok":false}<|return|>`)).toBe(-1);
    expect(
      await firstRejected(json, `${analysis}<|channel|>final<|message|>Sure! {"ok": true}<|return|>`),
    ).toBeGreaterThan(0);
    // No preamble before a JSON answer: Chat would show it as content.
    expect(
      await firstRejected(
        json,
        `<|channel|>commentary<|message|>hi<|end|><|start|>assistant<|channel|>final<|message|>{"ok":true}<|return|>`,
      ),
    ).toBeGreaterThan(0);
  }, 60_000);

  it("takes a namespaced call and a freeform call's raw text", async () => {
    const tools = { tools: [spawn, patch], toolChoice: "required" as const };
    const namespaced = `${analysis}<|channel|>commentary to=multi_agent_v1.spawn_agent <|constrain|>json<|message|>{"task": "t"}<|call|>`;
    expect(await firstRejected(tools, namespaced)).toBe(-1);
    const raw = `<|channel|>commentary to=functions.apply_patch<|message|>*** Begin Patch\n+x {not json\n<|call|>`;
    expect(await firstRejected(tools, raw)).toBe(-1);
    // A regex format is enforced on the raw input, matched whole.
    const version: DomainFunctionTool = {
      name: "set_version",
      freeform: { type: "grammar", syntax: "regex", definition: "^v\\d+\\.\\d+$" },
    };
    const forced = { tools: [version], toolChoice: "required" as const };
    const head = `<|channel|>commentary to=functions.set_version<|message|>`;
    expect(await firstRejected(forced, `${head}v12.3<|call|>`)).toBe(-1);
    expect(await firstRejected(forced, `${head}v12.3x<|call|>`)).toBeGreaterThan(0);
    expect(await firstRejected(forced, `${head}12.3<|call|>`)).toBeGreaterThan(0);
    // The namespace is part of the recipient: functions.spawn_agent is not a tool here.
    expect(
      await firstRejected(tools, `<|channel|>commentary to=functions.spawn_agent<|message|>{}<|call|>`),
    ).toBeGreaterThan(0);
  }, 60_000);

  it("auto with tools and text: a free final answer or a call, and a tool without schema takes any object", async () => {
    const auto = { tools: [weather, search] };
    expect(await firstRejected(auto, `${analysis}<|channel|>final<|message|>It is sunny <3.<|return|>`)).toBe(
      -1,
    );
    expect(
      await firstRejected(
        auto,
        `<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"q": [1, {"x": null}]}<|call|>`,
      ),
    ).toBe(-1);
  }, 60_000);
});
