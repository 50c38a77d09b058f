import { describe, expect, it } from "vitest";
import { renderFunctionsNamespace, renderToolNamespaces, schemaToTypeScript } from "./render-tools.ts";
import type { FunctionTool } from "./types.ts";

const getWeather: FunctionTool = {
  name: "get_weather",
  description: "Gets the weather",
  parameters: {
    type: "object",
    properties: {
      location: { type: "string", description: "City name" },
      unit: { type: "string", enum: ["c", "f"], default: "c" },
    },
    required: ["location"],
  },
};

describe("renderFunctionsNamespace", () => {
  it("renders the harmony.md example byte for byte (enum default bare, as both references do)", () => {
    expect(renderFunctionsNamespace([getWeather])).toBe(
      [
        "## functions",
        "",
        "namespace functions {",
        "",
        "// Gets the weather",
        "type get_weather = (_: {",
        "// City name",
        "location: string,",
        'unit?: "c" | "f", // default: c',
        "}) => any;",
        "",
        "} // namespace functions",
      ].join("\n"),
    );
  });

  it("renders functions without parameters as () => any, a blank line after each", () => {
    const text = renderFunctionsNamespace([
      { name: "get_location", description: "Gets the location of the user." },
      { name: "ping", parameters: { type: "object", properties: {} } },
      getWeather,
    ]);
    expect(text).toContain(
      "namespace functions {\n\n// Gets the location of the user.\ntype get_location = () => any;\n\n" +
        "type ping = () => any;\n\n// Gets the weather\ntype get_weather = (_: {\n",
    );
    expect(text.endsWith("}) => any;\n\n} // namespace functions")).toBe(true);
  });

  it("writes multi-line descriptions as one comment line each", () => {
    const text = renderFunctionsNamespace([{ name: "f", description: "Line one.\nLine two.\n" }]);
    expect(text).toContain("// Line one.\n// Line two.\ntype f = () => any;");
  });

  it("is empty without tools", () => {
    expect(renderFunctionsNamespace([])).toBe("");
  });
});

describe("renderToolNamespaces", () => {
  it("renders each namespace as openai-harmony does, in name order, its description as comments", () => {
    const text = renderToolNamespaces(
      [
        { name: "spawn", namespace: "zeta", description: "Spawn." },
        getWeather,
        { name: "close", namespace: "agents" },
      ],
      [{ name: "agents", description: "Sub-agents.\nTwo lines." }],
    );
    expect(text).toBe(
      [
        "## agents",
        "",
        "// Sub-agents.",
        "// Two lines.",
        "namespace agents {",
        "",
        "type close = () => any;",
        "",
        "} // namespace agents",
        "",
        renderFunctionsNamespace([getWeather]),
        "",
        "## zeta",
        "",
        "namespace zeta {",
        "",
        "// Spawn.",
        "type spawn = () => any;",
        "",
        "} // namespace zeta",
      ].join("\n"),
    );
  });

  it("renders a freeform tool as (FREEFORM), its grammar as comments", () => {
    const text = renderToolNamespaces([
      { name: "exec", freeform: { type: "text" } },
      {
        name: "patch",
        description: "Patch.",
        freeform: { type: "grammar", syntax: "lark", definition: 'start: a\na: "x"' },
      },
    ]);
    expect(text).toContain("type exec = (FREEFORM) => any;\n\n");
    expect(text).toContain(
      '// Patch.\n// FREEFORM input in this lark grammar:\n// start: a\n// a: "x"\ntype patch = (FREEFORM) => any;\n',
    );
  });

  it("is empty without tools", () => {
    expect(renderToolNamespaces([])).toBe("");
  });
});

describe("schemaToTypeScript", () => {
  it("maps JSON Schema types as harmony's json_schema_to_typescript (more in render-tools.golden.test.ts)", () => {
    expect(schemaToTypeScript({ type: "integer" })).toBe("number");
    expect(schemaToTypeScript({ type: "number" })).toBe("number");
    expect(schemaToTypeScript({ type: "boolean" })).toBe("boolean");
    // nullable is applied where a property or union variant is written, as harmony does.
    expect(schemaToTypeScript({ type: "string", nullable: true })).toBe("string");
    expect(schemaToTypeScript({ type: ["string", "null"] })).toBe("string | null");
    expect(schemaToTypeScript({ type: ["integer", "integer"] })).toBe("number | number");
    expect(schemaToTypeScript({ type: "array", items: { type: "string" } })).toBe("string[]");
    expect(schemaToTypeScript({ type: "array", items: { type: "string", enum: ["a", "b"] } })).toBe(
      '"a" | "b"[]',
    );
    expect(schemaToTypeScript({ type: "array" })).toBe("Array<any>");
    expect(schemaToTypeScript({ type: "object" })).toBe("{\n}");
    expect(schemaToTypeScript({ oneOf: [{ type: "string" }, { type: "number" }] })).toBe(
      "\n | string\n | number",
    );
    expect(schemaToTypeScript({})).toBe("any");
  });

  it("goes beyond harmony only where it has no rule: anyOf, const, untyped enums, null, untyped objects", () => {
    expect(schemaToTypeScript({ anyOf: [{ type: "string" }, { type: "null" }] })).toBe(
      "\n | string\n | null",
    );
    expect(schemaToTypeScript({ enum: [1, 2] })).toBe("1 | 2");
    expect(schemaToTypeScript({ type: "string", const: "a" })).toBe('"a"');
    expect(schemaToTypeScript({ type: "null" })).toBe("null");
    expect(schemaToTypeScript({ properties: { a: { type: "string" } } })).toBe("{\na?: string,\n}");
  });
});
