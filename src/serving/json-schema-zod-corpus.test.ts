/**
 * A corpus of the JSON Schemas zod 4 writes (`z.toJSONSchema`, as the AI SDK, LangChain and the
 * Agents SDK send them): each is accepted, and its grammar (checked by llama.cpp's own matcher)
 * accepts valid documents and refuses invalid ones. Every document the test calls valid is checked
 * by ajv (draft 2020-12, with ajv-formats) and by the zod schema itself, so the examples cannot
 * drift from what the schema means.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { getLlama, type Llama, type LlamaGrammar } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { GbnfRuleSet } from "./json-schema-gbnf.ts";
import { assertSupportedSchema } from "./json-schema-support.ts";

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
}, 60_000);

// ajv-formats comes with fastify (a dependency); its CJS default export is the plugin.
const ajv = new Ajv2020({ strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

async function matcher(schema: unknown): Promise<(text: string) => boolean> {
  const rules = new GbnfRuleSet();
  rules.set("root", rules.schema(schema, "t"));
  const grammar = (await llama.createGrammar({ grammar: rules.text() })) as LlamaGrammar & {
    _testText(text: string): boolean;
  };
  return (text) => grammar._testText(text);
}

interface Case {
  zod: z.ZodType;
  valid: unknown[];
  /** Documents the schema refuses, so the grammar must too. */
  invalid: unknown[];
  /** Documents the schema allows but the grammar's subset does not offer (documented). */
  subsetOnly?: unknown[];
}

const Node: z.ZodType<{ name: string; kids: unknown[] }> = z.object({
  name: z.string(),
  get kids() {
    return z.array(Node).max(3);
  },
});

export const CORPUS: Readonly<Record<string, Case>> = {
  "int (zod's ±(2^53−1) bounds are no-ops)": {
    zod: z.number().int(),
    valid: [0, -7, 123456789012345],
    invalid: [1.5, "1"],
    subsetOnly: [2 ** 53 - 1],
  },
  "int with min/max": {
    zod: z.number().int().min(-5).max(120),
    valid: [-5, 0, 9, 10, 99, 120],
    invalid: [-6, 121, 1000, 5.5],
  },
  "positive int, lt": {
    zod: z.object({ n: z.number().int().positive(), m: z.int().lt(100) }),
    valid: [
      { n: 1, m: 99 },
      { n: 42, m: -3 },
    ],
    invalid: [
      { n: 0, m: 1 },
      { n: 1, m: 100 },
    ],
  },
  "number gt/lt": {
    zod: z.number().gt(0).lt(1),
    valid: [0.5, 0.001],
    invalid: [0, 1, 1.5, -0.5],
  },
  "number min/max": {
    zod: z.number().min(-1).max(2),
    valid: [-1, -0.25, 0, 1.75, 2, 2.0],
    invalid: [-1.5, 2.5, 3],
  },
  "string min/max length": {
    zod: z.string().min(2).max(4),
    valid: ["ab", "abcd", "é✓z"],
    invalid: ["a", "abcde"],
  },
  email: {
    zod: z.email(),
    valid: ["a@b.co", "first.last+tag@mail.example.org"],
    invalid: ["a@b", "no-at.example.com", "a@@b.co"],
  },
  "email with a length bound (the pattern narrowed to fit)": {
    zod: z.email().max(40),
    valid: ["a@b.co", "john.doe@example.com", "x_y+z@mail.io"],
    invalid: ["not an email", `${"a".repeat(30)}@example.com`, "a@b"],
  },
  "email with min(1)": {
    zod: z.string().email().min(1),
    valid: ["a@b.co", "john.doe@example.com"],
    invalid: ["", "@example.com"],
  },
  "regex with min and max": {
    zod: z
      .string()
      .regex(/^[a-z]+$/)
      .min(3)
      .max(5),
    valid: ["abc", "abcd", "abcde"],
    invalid: ["ab", "abcdef", "ABC", ""],
  },
  "unanchored regex with max": {
    zod: z.string().regex(/ab/).max(4),
    valid: ["ab", "xab", "xaby"],
    invalid: ["", "a", "xxxxab", "abxxx", "xyz"],
    // The slack is shared between the two open ends: at most one character each here.
    subsetOnly: ["abyy", "yyab"],
  },
  "tuple (prefixItems, items false)": {
    zod: z.tuple([z.string().max(5), z.number().int(), z.boolean()]),
    valid: [
      ["a", 1, true],
      ["", -3, false],
    ],
    invalid: [["a", 1], ["a", 1, true, 2], [1, "a", true], ["abcdef", 1, true], []],
  },
  "tuple with a rest": {
    zod: z.tuple([z.string(), z.number()], z.boolean()),
    valid: [
      ["a", 1],
      ["a", 1, true, false],
    ],
    invalid: [["a"], ["a", 1, 2], [1, "a"]],
  },
  "iso datetime": {
    zod: z.iso.datetime(),
    valid: ["2025-06-28T10:20:30Z", "2024-02-29T00:00:00.123Z"],
    invalid: ["2025-06-28", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z"],
  },
  "iso date and time": {
    zod: z.object({ d: z.iso.date(), t: z.iso.time() }),
    valid: [
      { d: "2025-06-28", t: "10:20" },
      { d: "2000-02-29", t: "23:59:59.5" },
    ],
    invalid: [
      { d: "2025-06-31", t: "10:20" },
      { d: "2025-06-28", t: "24:00" },
    ],
  },
  uuid: {
    zod: z.uuid(),
    valid: ["123e4567-e89b-12d3-a456-426614174000"],
    invalid: ["123e4567-e89b-02d3-a456-426614174000", "123e4567"],
  },
  "url (format uri)": {
    zod: z.url(),
    valid: ["https://example.com", "http://api.example.com:8080/v1/items?q=1#top"],
    invalid: ["example.com", "https://exa mple.com"],
  },
  "regex, ipv4, e164, cuid, ulid": {
    zod: z.object({
      code: z.string().regex(/^[A-Z]{3}-\d{2,4}$/),
      ip: z.ipv4(),
      phone: z.e164(),
      cuid: z.cuid(),
      ulid: z.ulid(),
    }),
    valid: [
      {
        code: "ABC-123",
        ip: "192.168.0.1",
        phone: "+14155552671",
        cuid: "cjld2cjxh0000qzrmn831i7rn",
        ulid: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
      },
    ],
    invalid: [
      {
        code: "AB-123",
        ip: "192.168.0.1",
        phone: "+14155552671",
        cuid: "cjld2cjxh0000qzrmn831i7rn",
        ulid: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
      },
      {
        code: "ABC-123",
        ip: "256.1.1.1",
        phone: "+14155552671",
        cuid: "cjld2cjxh0000qzrmn831i7rn",
        ulid: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
      },
    ],
  },
  "startsWith, includes, lowercase": {
    zod: z.object({
      a: z.string().startsWith("id_"),
      b: z.string().includes("@"),
      c: z.string().lowercase(),
    }),
    valid: [
      { a: "id_7", b: "x@y", c: "abc 1" },
      { a: "id_", b: "@", c: "" },
    ],
    invalid: [
      { a: "xid_", b: "x@y", c: "abc" },
      { a: "id_", b: "xy", c: "abc" },
      { a: "id_", b: "@", c: "aBc" },
    ],
  },
  "enum and literal": {
    zod: z.object({ unit: z.enum(["c", "f"]), kind: z.literal("weather") }),
    valid: [{ unit: "c", kind: "weather" }],
    invalid: [
      { unit: "k", kind: "weather" },
      { unit: "c", kind: "other" },
    ],
  },
  discriminatedUnion: {
    zod: z.discriminatedUnion("type", [
      z.object({ type: z.literal("circle"), r: z.number().positive() }),
      z.object({ type: z.literal("rect"), w: z.number(), h: z.number() }),
    ]),
    valid: [
      { type: "circle", r: 2 },
      { type: "rect", w: 1, h: 2.5 },
    ],
    invalid: [
      { type: "circle", w: 1, h: 2 },
      { type: "square", r: 1 },
      { type: "circle", r: 0 },
    ],
  },
  "record (propertyNames)": {
    zod: z.record(z.string().regex(/^[a-z]+$/), z.number().int()),
    valid: [{}, { a: 1, bc: -2 }],
    invalid: [{ A: 1 }, { a: "x" }],
  },
  "record over an enum of keys": {
    zod: z.record(z.enum(["x", "y"]), z.boolean()),
    valid: [{ x: true, y: false }],
    invalid: [{ x: true }, { x: true, y: false, z: true }],
  },
  "optional, nullable, nullish": {
    zod: z.object({ a: z.string().optional(), b: z.number().nullable(), c: z.boolean().nullish() }),
    valid: [{ b: null }, { a: "x", b: 1, c: null }, { b: 2, c: true }],
    invalid: [{ a: "x" }, { b: "1" }],
  },
  "arrays with bounds": {
    zod: z.array(z.string().max(3)).min(1).max(3),
    valid: [["a"], ["a", "bb", "ccc"]],
    invalid: [[], ["a", "b", "c", "d"], ["abcd"]],
  },
  "nested objects, intersection, union": {
    zod: z.object({
      user: z.intersection(z.object({ id: z.int().min(1) }), z.object({ name: z.string().min(1) })),
      tags: z.array(z.union([z.string(), z.number()])),
      exact: z.intersection(z.string(), z.string().min(2)),
    }),
    valid: [{ user: { id: 1, name: "a" }, tags: ["x", 2], exact: "ab" }],
    invalid: [
      { user: { id: 0, name: "a" }, tags: [], exact: "ab" },
      { user: { id: 1, name: "a" }, tags: [], exact: "a" },
    ],
  },
  "recursive (getter, $ref '#')": {
    zod: Node,
    valid: [
      {
        name: "root",
        kids: [
          { name: "a", kids: [] },
          { name: "b", kids: [{ name: "c", kids: [] }] },
        ],
      },
    ],
    invalid: [
      { name: "root", kids: [{ name: "a" }] },
      { name: "root", kids: [1] },
    ],
  },
  "reused schemas as $defs": {
    zod: z.object({
      a: z.object({ x: z.int() }).meta({ id: "Point" }),
      b: z.object({ x: z.int() }).meta({ id: "Point2" }),
    }),
    valid: [{ a: { x: 1 }, b: { x: 2 } }],
    invalid: [{ a: { x: "1" }, b: { x: 2 } }],
  },
};

describe("zod 4's JSON Schemas", () => {
  for (const [name, c] of Object.entries(CORPUS)) {
    it(name, async () => {
      const schema = z.toJSONSchema(c.zod);
      expect(() => assertSupportedSchema(schema, "schema")).not.toThrow();
      const ok = await matcher(schema);
      const validate = ajv.compile(schema);
      for (const value of c.valid) {
        const text = JSON.stringify(value);
        expect(validate(value), `ajv: ${text}`).toBe(true);
        expect(c.zod.safeParse(value).success, `zod: ${text}`).toBe(true);
        expect(ok(text), `grammar refused valid ${text}`).toBe(true);
      }
      for (const value of c.invalid) {
        const text = JSON.stringify(value);
        expect(validate(value), `ajv accepts ${text}`).toBe(false);
        expect(ok(text), `grammar accepted invalid ${text}`).toBe(false);
      }
      for (const value of c.subsetOnly ?? []) {
        expect(validate(value)).toBe(true);
        expect(ok(JSON.stringify(value))).toBe(false);
      }
    });
  }

  it("what the grammar cannot enforce is a 400 that names it", () => {
    for (const [zod, what] of [
      [z.string().regex(/^(?=a)\w+$/), /pattern .* uses a lookaround assertion/],
      [z.emoji(), /uses a lookaround assertion/],
      [z.string().regex(/^\p{L}+$/u), /uses a Unicode property escape/],
      [
        z
          .string()
          .regex(/^[a-z]{5}$/)
          .max(3),
        /has no string of 0 to 3 characters/,
      ],
      [z.iso.date().min(11), /has no string of 11 to any number of characters/],
      [z.number().multipleOf(3), /'multipleOf'/],
    ] as const) {
      expect(() => assertSupportedSchema(z.toJSONSchema(zod), "schema")).toThrow(what);
    }
  });
});
