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
  it("maps JSON Schema types", () => {
    expect(schemaToTypeScript({ type: "integer" })).toBe("number");
    expect(schemaToTypeScript({ type: "number" })).toBe("number");
    expect(schemaToTypeScript({ type: "boolean" })).toBe("boolean");
    expect(schemaToTypeScript({ type: "string", nullable: true })).toBe("string | null");
    expect(schemaToTypeScript({ type: ["string", "null"] })).toBe("string | null");
    expect(schemaToTypeScript({ type: "array", items: { type: "string" } })).toBe("string[]");
    expect(schemaToTypeScript({ type: "array", items: { enum: ["a", "b"] } })).toBe('("a" | "b")[]');
    expect(schemaToTypeScript({ type: "array" })).toBe("any[]");
    expect(schemaToTypeScript({ enum: [1, 2] })).toBe("1 | 2");
    expect(schemaToTypeScript({ anyOf: [{ type: "string" }, { type: "number" }] })).toBe("string | number");
    expect(schemaToTypeScript({ type: "object" })).toBe("object");
    expect(schemaToTypeScript({})).toBe("any");
  });

  it("indents nested objects and keeps their optional markers and defaults", () => {
    const text = renderFunctionsNamespace([
      {
        name: "book",
        parameters: {
          type: "object",
          properties: {
            guest: {
              type: "object",
              description: "Who stays",
              properties: { name: { type: "string" }, age: { type: "integer", default: 30 } },
              required: ["name"],
            },
            nights: { type: "integer", default: 1 },
          },
        },
      },
    ]);
    expect(text).toContain(
      "type book = (_: {\n// Who stays\nguest?: {\n    name: string,\n    age?: number, // default: 30\n},\n" +
        "nights?: number, // default: 1\n}) => any;",
    );
  });
});
