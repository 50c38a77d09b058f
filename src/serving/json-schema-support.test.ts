import { describe, expect, it } from "vitest";
import { isServerError } from "../errors/server-error.ts";
import { assertSupportedSchema, findSchemaProblems, resolveRef } from "./json-schema-support.ts";

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
          age: { type: "integer", minimum: 0 },
          name: { type: "string", pattern: "^[a-z]+$" },
          pair: { type: "array", items: [{ type: "string" }] },
          mail: { type: "string", format: "email" },
        },
        oneOf: [{}],
      },
      "schema",
    );
    expect(problems.map((p) => `${p.path}:${p.keyword}`)).toEqual([
      "schema.properties.age:minimum",
      "schema.properties.name:pattern",
      "schema.properties.pair:items",
      "schema.properties.mail:format",
      "schema:oneOf",
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
        { type: "object", properties: { n: { type: "number", maximum: 3, multipleOf: 2 } } },
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
    expect(error.message).toContain("'maximum' at response_format.json_schema.schema.properties.n");
    expect(error.message).toContain("'multipleOf'");
  });

  it("passes supported schemas", () => {
    expect(() => assertSupportedSchema({ type: "object" }, "p")).not.toThrow();
  });
});
