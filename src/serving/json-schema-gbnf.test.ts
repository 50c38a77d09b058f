/**
 * The generated GBNF checked by llama.cpp itself (node-llama-cpp's grammar parser and matcher, no
 * model needed): what the grammar accepts is what a constrained model can write.
 */
import { getLlama, type Llama, type LlamaGrammar } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { GbnfRuleSet, gbnfLiteral, jsonLiteral, MAX_GRAMMAR_UNITS } from "./json-schema-gbnf.ts";
import { MAX_REF_DEPTH } from "./json-schema-recursion.ts";

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
}, 60_000);

/** `_testText` is node-llama-cpp's internal full-text match (llama_grammar_accept per character). */
async function matcher(schema: unknown): Promise<(text: string) => boolean> {
  const rules = new GbnfRuleSet();
  rules.set("root", rules.schema(schema, "t"));
  const grammar = (await llama.createGrammar({ grammar: rules.text() })) as LlamaGrammar & {
    _testText(text: string): boolean;
  };
  return (text) => grammar._testText(text);
}

describe("JSON Schema → GBNF", () => {
  it("objects: required keys, optional keys skipped in order, no unknown keys", async () => {
    const ok = await matcher({
      type: "object",
      properties: { city: { type: "string" }, unit: { enum: ["c", "f"] }, days: { type: "integer" } },
      required: ["city"],
    });
    expect(ok('{"city":"Paris"}')).toBe(true);
    expect(ok('{ "city": "Paris", "days": 3 }')).toBe(true);
    expect(ok('{\n  "city": "Paris",\n  "unit": "c",\n  "days": -2\n}')).toBe(true);
    expect(ok('{"unit":"c"}')).toBe(false); // city is required
    expect(ok('{"city":"Paris","unit":"k"}')).toBe(false); // not in the enum
    expect(ok('{"city":"Paris","days":1.5}')).toBe(false); // integer
    expect(ok('{"city":"Paris","wind":1}')).toBe(false); // undeclared key
    expect(ok('{"days":3,"city":"Paris"}')).toBe(false); // schema order
  });

  it("strings never contain a control token's spelling, yet '<' and escapes are fine", async () => {
    const ok = await matcher({ type: "string" });
    expect(ok('"a < b"')).toBe(true);
    expect(ok('"ends with <"')).toBe(true);
    expect(ok('"<<x"')).toBe(true);
    expect(ok('"\\u003c|end|> and \\"quoted\\""')).toBe(true);
    expect(ok('"<|end|>"')).toBe(false);
    expect(ok('"x<<|call|>"')).toBe(false);
    expect(ok('"raw\nnewline"')).toBe(false);
  });

  it("arrays with bounds, nullable and type lists, anyOf, const, formats", async () => {
    const arr = await matcher({ type: "array", items: { type: "boolean" }, minItems: 1, maxItems: 2 });
    expect(arr("[true]")).toBe(true);
    expect(arr("[true, false]")).toBe(true);
    expect(arr("[]")).toBe(false);
    expect(arr("[true,false,true]")).toBe(false);
    const nullable = await matcher({ type: ["number", "null"] });
    expect(nullable("null")).toBe(true);
    expect(nullable("-1.25e3")).toBe(true);
    expect(nullable('"1"')).toBe(false);
    const any = await matcher({ anyOf: [{ type: "integer" }, { const: "x<y" }] });
    expect(any("12")).toBe(true);
    expect(any('"x\\u003cy"')).toBe(true); // the literal is written with "<" escaped
    expect(any('"z"')).toBe(false);
    const date = await matcher({ type: "string", format: "date-time" });
    expect(date('"2025-06-28T10:20:30Z"')).toBe(true);
    expect(date('"2025-06-28"')).toBe(false);
    const uuid = await matcher({ type: "string", format: "uuid" });
    expect(uuid('"123e4567-e89b-12d3-a456-426614174000"')).toBe(true);
  });

  it("recursive $ref, maps from additionalProperties, any object", async () => {
    const tree = await matcher({
      $ref: "#/$defs/Node",
      $defs: {
        Node: {
          type: "object",
          properties: { v: { type: "integer" }, kids: { type: "array", items: { $ref: "#/$defs/Node" } } },
          required: ["v"],
        },
      },
    });
    expect(tree('{"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]}')).toBe(true);
    expect(tree('{"v":1,"kids":[{"w":2}]}')).toBe(false);
    const map = await matcher({ type: "object", additionalProperties: { type: "integer" } });
    expect(map('{"a":1,"b":2}')).toBe(true);
    expect(map('{"a":"x"}')).toBe(false);
    const closed = await matcher({ type: "object", additionalProperties: false });
    expect(closed("{}")).toBe(true);
    expect(closed('{"a":1}')).toBe(false);
    const obj = await matcher({ type: "object" });
    expect(obj('{"a":[1,{"b":null}],"c":"d"}')).toBe(true);
    expect(obj("[1]")).toBe(false);
  });

  it(`recursive $ref nests at most ${MAX_REF_DEPTH} deep, the last level without its recursive parts`, async () => {
    const node = {
      type: "object",
      properties: { v: { type: "integer" }, kids: { type: "array", items: { $ref: "#/$defs/Node" } } },
      required: ["v"],
    };
    const tree = await matcher({ $ref: "#/$defs/Node", $defs: { Node: node } });
    const nest = (n: number): string => (n === 1 ? '{"v":1}' : `{"v":1,"kids":[${nest(n - 1)},{"v":2}]}`);
    expect(tree(nest(MAX_REF_DEPTH))).toBe(true);
    expect(tree(nest(MAX_REF_DEPTH + 1))).toBe(false);
    // The deepest level may still write an empty array, never an item in it.
    expect(tree(nest(MAX_REF_DEPTH).replace('{"v":1}', '{"v":1,"kids":[]}'))).toBe(true);
    expect(tree(nest(MAX_REF_DEPTH).replace('{"v":1}', '{"v":1,"kids":[{"v":1}]}'))).toBe(false);

    // A required link that may be null (zod's z.lazy list): the last level must write null.
    const list = await matcher({
      type: "object",
      properties: { v: { type: "integer" }, next: { anyOf: [{ $ref: "#" }, { type: "null" }] } },
      required: ["v", "next"],
      additionalProperties: false,
    });
    const chain = (n: number): string => (n === 0 ? "null" : `{"v":${n},"next":${chain(n - 1)}}`);
    // The root is not a ref expansion: it and MAX_REF_DEPTH expansions of "#".
    expect(list(chain(MAX_REF_DEPTH + 1))).toBe(true);
    expect(list(chain(MAX_REF_DEPTH + 2))).toBe(false);

    // Mutual recursion through a non-recursive-looking ref (A → B → A), and a plain ref into it.
    const mutual = await matcher({
      type: "object",
      properties: { root: { $ref: "#/$defs/Wrap" } },
      required: ["root"],
      $defs: {
        Wrap: { type: "object", properties: { a: { $ref: "#/$defs/A" } }, required: ["a"] },
        A: { type: "object", properties: { b: { $ref: "#/$defs/B" } } },
        B: { type: "object", properties: { a: { $ref: "#/$defs/A" } } },
      },
    });
    // n objects alternating A and B, starting with A ({"b": …}).
    const ab = (n: number, key = "b"): string =>
      n === 1 ? "{}" : `{"${key}":${ab(n - 1, key === "b" ? "a" : "b")}}`;
    expect(mutual(`{"root":{"a":${ab(MAX_REF_DEPTH)}}}`)).toBe(true);
    expect(mutual(`{"root":{"a":${ab(MAX_REF_DEPTH + 2)}}}`)).toBe(false);
  });

  it("refuses, as a 400, a recursive schema with no finite value", () => {
    const endless = {
      type: "object",
      properties: { next: { $ref: "#" } },
      required: ["next"],
    };
    expect(() => new GbnfRuleSet().schema(endless, "t")).toThrow(
      expect.objectContaining({
        code: "invalid_value",
        message: expect.stringMatching(/no finite JSON value/),
      }),
    );
    const viaDefs = {
      $ref: "#/$defs/L",
      $defs: { L: { type: "array", minItems: 1, items: { $ref: "#/$defs/L" } } },
    };
    expect(() => new GbnfRuleSet().schema(viaDefs, "t")).toThrow(/no finite JSON value/);
  });

  it("a chain of 3,000 refs compiles from a queue (no recursion per ref) and matches", async () => {
    const n = 3_000;
    const $defs = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        `d${i}`,
        i + 1 < n
          ? { type: "object", properties: { x: { $ref: `#/$defs/d${i + 1}` } } }
          : { type: "integer" },
      ]),
    );
    const chain = await matcher({ $ref: "#/$defs/d0", $defs });
    expect(chain(`${'{"x":'.repeat(n - 1)}7${"}".repeat(n - 1)}`)).toBe(true);
    expect(chain(`${'{"x":'.repeat(n - 1)}"a"${"}".repeat(n - 1)}`)).toBe(false);
  });

  it(`refuses, as a 400, schemas that expand past ${MAX_GRAMMAR_UNITS} rules`, () => {
    // anyOf branches inherit their siblings: ten branches a level copy the properties ten times.
    let schema: unknown = { type: "string" };
    for (let i = 0; i < 6; i++) {
      schema = { type: "object", properties: { p: schema }, anyOf: Array.from({ length: 10 }, () => ({})) };
    }
    const rules = new GbnfRuleSet();
    expect(() => rules.schema(schema, "t")).toThrow(
      expect.objectContaining({
        code: "invalid_value",
        message: expect.stringMatching(/more than 50000 rules/),
      }),
    );
    // Counted items count too: 60 arrays of 1,000 items.
    const wide = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`a${i}`, { type: "array", minItems: 1000, maxItems: 1000 }]),
    );
    expect(() => new GbnfRuleSet().schema({ type: "object", properties: wide }, "t")).toThrow(
      /more than 50000/,
    );
  });

  it("numbers, integers and whitespace are bounded: a noisy model cannot run on", async () => {
    const int = await matcher({ type: "integer" });
    expect(int("999999999999999")).toBe(true); // 15 digits
    expect(int("9999999999999999")).toBe(false); // 16: past 2^53
    const num = await matcher({ type: "number" });
    expect(num("1.5e99")).toBe(true);
    expect(num("1e999")).toBe(false); // Infinity in JavaScript
    const obj = await matcher({ type: "object", properties: { a: { type: "integer" } } });
    expect(obj('{\n  "a": 1\n}')).toBe(true);
    expect(obj(`{${" ".repeat(30)}"a": 1}`)).toBe(false);
  });

  it("integer ranges exactly, patterns with escapes, propertyNames, oneOf, allOf", async () => {
    const range = await matcher({ type: "integer", minimum: -12, exclusiveMaximum: 305 });
    for (let n = -20; n <= 320; n++) expect(range(String(n)), String(n)).toBe(n >= -12 && n < 305);
    const quoted = await matcher({ type: "string", pattern: '^a["\\\\<]b$' });
    expect(quoted('"a\\"b"')).toBe(true);
    expect(quoted('"a\\\\b"')).toBe(true);
    expect(quoted('"a\\u003cb"')).toBe(true); // "<" always escaped
    expect(quoted('"a<b"')).toBe(false);
    const map = await matcher({
      type: "object",
      propertyNames: { enum: ["x", "y"] },
      additionalProperties: true,
    });
    expect(map('{"x":[1],"y":null}')).toBe(true);
    expect(map('{"z":1}')).toBe(false);
    const one = await matcher({ oneOf: [{ type: "integer" }, { type: "string", maxLength: 1 }] });
    expect(one('"a"')).toBe(true);
    expect(one('"ab"')).toBe(false);
    const all = await matcher({ allOf: [{ type: "string" }, { minLength: 2 }] });
    expect(all('"ab"')).toBe(true);
    expect(all('"a"')).toBe(false);
  });

  it("literals escape quotes, backslashes, control characters and '<'", () => {
    expect(gbnfLiteral('a"b\\c\n')).toBe('"a\\"b\\\\c\\x0a"');
    expect(jsonLiteral("<|end|>")).toBe('"\\"\\\\u003c|end|>\\""');
  });
});
