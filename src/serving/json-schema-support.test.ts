import { describe, expect, it } from "vitest";
import { isServerError } from "../errors/server-error.ts";
import {
  assertSupportedSchema,
  findSchemaProblems,
  resolveRef,
  SCHEMA_LIMITS,
} from "./json-schema-support.ts";

describe("findSchemaProblems", () => {
  it("accepts the supported subset, annotations and x- extensions included", () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "Order",
      type: "object",
      "x-internal": true,
      properties: {
        id: { type: "string", format: "uuid", description: "order id" },
        when: { type: ["string", "null"], format: "date-time" },
        qty: { type: "integer", default: 1 },
        tags: { type: "array", items: { enum: ["a", "b"] }, minItems: 1, maxItems: 3 },
        kind: { const: "order" },
        note: { anyOf: [{ type: "string" }, { type: "null" }] },
        child: { $ref: "#/$defs/Node" },
      },
      required: ["id"],
      additionalProperties: false,
      $defs: { Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } }, nullable: true } },
    };
    expect(findSchemaProblems(schema)).toEqual([]);
  });

  it("names every unsupported keyword with its path", () => {
    const problems = findSchemaProblems(
      {
        type: "object",
        properties: {
          age: { type: "integer", multipleOf: 2 },
          name: { type: "string", pattern: "^(?=a)[a-z]+$" },
          pair: { type: "array", items: [{ type: "string" }] },
          mail: { type: "string", format: "hostname-ish" },
        },
        not: { type: "null" },
      },
      "schema",
    );
    expect(problems.map((p) => `${p.path}:${p.keyword}`)).toEqual([
      "schema.properties.age:multipleOf",
      "schema.properties.name:pattern",
      "schema.properties.pair:items",
      "schema.properties.mail:format",
      "schema:not",
    ]);
  });

  it("rejects malformed values of supported keywords and dangling refs", () => {
    const problems = findSchemaProblems({
      type: "objekt",
      enum: [],
      minItems: 3,
      maxItems: 2,
      properties: { a: { $ref: "#/$defs/Missing" }, b: { $ref: "https://example.com/s.json" } },
    });
    expect(problems.map((p) => p.keyword)).toEqual(["type", "enum", "maxItems", "$ref", "$ref"]);
  });

  it("resolves local refs, '#' included", () => {
    const root = { definitions: { A: { type: "string" } } };
    expect(resolveRef(root, "#/definitions/A")).toEqual({ type: "string" });
    expect(resolveRef(root, "#")).toBe(root);
    expect(resolveRef(root, "#/definitions/B")).toBeUndefined();
  });
});

describe("assertSupportedSchema", () => {
  it("throws a 400 invalid_value whose message names the keywords and whose param is the first path", () => {
    let caught: unknown;
    try {
      assertSupportedSchema(
        { type: "object", properties: { n: { type: "number", uniqueItems: true, multipleOf: 2 } } },
        "response_format.json_schema.schema",
      );
    } catch (error) {
      caught = error;
    }
    expect(isServerError(caught)).toBe(true);
    const error = caught as { status: number; code: string; param: string; message: string };
    expect(error.status).toBe(400);
    expect(error.code).toBe("invalid_value");
    expect(error.param).toBe("response_format.json_schema.schema.properties.n");
    expect(error.message).toContain("'uniqueItems' at response_format.json_schema.schema.properties.n");
    expect(error.message).toContain("'multipleOf'");
  });

  it("passes supported schemas", () => {
    expect(() => assertSupportedSchema({ type: "object" }, "p")).not.toThrow();
  });
});

describe("findSchemaProblems: limits that keep a schema's work bounded", () => {
  const nested = (depth: number): unknown => {
    let s: unknown = { type: "string" };
    for (let i = 0; i < depth; i++) s = { type: "array", items: s };
    return s;
  };
  const keywords = (schema: unknown) => findSchemaProblems(schema).map((p) => `${p.keyword}: ${p.detail}`);

  it(`refuses nesting past ${SCHEMA_LIMITS.depth} levels and accepts it up to there`, () => {
    expect(keywords(nested(SCHEMA_LIMITS.depth - 1))).toEqual([]);
    expect(keywords(nested(SCHEMA_LIMITS.depth))).toEqual([
      `(schema): nested deeper than ${SCHEMA_LIMITS.depth} levels`,
    ]);
  });

  it("refuses more schemas than the limit, once", () => {
    const properties = Object.fromEntries(
      Array.from({ length: SCHEMA_LIMITS.schemas + 5 }, (_, i) => [`p${i}`, { type: "string" }]),
    );
    expect(keywords({ type: "object", properties })).toEqual([
      `(schema): more than ${SCHEMA_LIMITS.schemas} schemas`,
    ]);
  });

  it("bounds enums and array counts, and refuses a type listed twice", () => {
    const values = Array.from({ length: SCHEMA_LIMITS.enumValues + 1 }, (_, i) => i);
    expect(keywords({ enum: values })).toEqual([`enum: has more than ${SCHEMA_LIMITS.enumValues} values`]);
    expect(keywords({ type: "array", minItems: SCHEMA_LIMITS.arrayBound })).toEqual([]);
    expect(keywords({ type: "array", minItems: 100_000 })[0]).toMatch(/^minItems: must be at most 1024/);
    expect(keywords({ type: "array", maxItems: 1e9 })[0]).toMatch(/^maxItems: must be at most 1024/);
    expect(keywords({ type: ["object", "object"] })).toEqual(["type: lists a type twice"]);
  });

  it("a malformed escape in a $ref is a problem, not an exception", () => {
    expect(keywords({ $ref: "#/$defs/%ZZ", $defs: {} })[0]).toMatch(/^\$ref: only local references/);
  });

  it("refuses refs that reach themselves before any object or array, accepts recursion through one", () => {
    const cycle = /^\$ref: '.*' refers back to itself/;
    expect(keywords({ $ref: "#" })[0]).toMatch(cycle);
    expect(
      keywords({ $ref: "#/$defs/a", $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } } })[0],
    ).toMatch(cycle);
    // Through anyOf, and through a sibling $ref that every anyOf branch inherits.
    expect(
      keywords({ $defs: { a: { anyOf: [{ type: "null" }, { $ref: "#/$defs/a" }] } }, $ref: "#/$defs/a" })[0],
    ).toMatch(cycle);
    // A tree: the recursion sits inside "{" ... "}", so documents end.
    const tree = {
      $defs: { n: { type: "object", properties: { kids: { type: "array", items: { $ref: "#/$defs/n" } } } } },
    };
    expect(keywords({ ...tree, $ref: "#/$defs/n" })).toEqual([]);
    expect(
      keywords({ anyOf: [{ type: "null" }, { type: "object", properties: { next: { $ref: "#" } } }] }),
    ).toEqual([]);
  });

  it("a chain of 4,000 refs (anyOf ones: all leading) is checked without overflowing the stack", () => {
    const n = 4_000; // two schema objects a def: under the schema limit
    const $defs: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        `d${i}`,
        i + 1 < n ? { anyOf: [{ $ref: `#/$defs/d${i + 1}` }] } : { type: "string" },
      ]),
    );
    expect(keywords({ $ref: "#/$defs/d0", $defs })).toEqual([]);
    $defs[`d${n - 1}`] = { $ref: "#/$defs/d0" };
    expect(keywords({ $ref: "#/$defs/d0", $defs })[0]).toMatch(/refers back to itself/);
  });

  it("the error lists ten problems and counts the rest", () => {
    const properties = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [`p${i}`, { multipleOf: i + 1 }]),
    );
    const error = (() => {
      try {
        assertSupportedSchema({ type: "object", properties }, "schema");
      } catch (e) {
        return e;
      }
    })();
    expect(isServerError(error) && error.message).toMatch(/and 15 more/);
  });
});
