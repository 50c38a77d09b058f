/**
 * Golden renderings of rich tool schemas, byte for byte as openai/harmony renders them
 * (github.com/openai/harmony at ec7606d, src/encoding.rs json_schema_to_typescript and
 * template_tools_section). Each case says where its expected text comes from.
 */
import { describe, expect, it } from "vitest";
import { renderFunctionsNamespace } from "./render-tools.ts";
import type { FunctionTool } from "./types.ts";

function ns(body: string[]): string {
  return ["## functions", "", "namespace functions {", "", ...body, "} // namespace functions"].join("\n");
}

describe("harmony goldens", () => {
  it("test_render_functions_with_parameters (harmony src/tests.rs + test-data/test_render_functions_with_parameters.txt)", () => {
    // Tools and expected text copied from harmony's own test: top-level description before `{`,
    // title + `//`, examples, nullable with a quoted string default, enum default bare, a oneOf
    // property with its description and default above and per-variant trailing comments.
    const tools: FunctionTool[] = [
      { name: "get_location", description: "Gets the location of the user." },
      {
        name: "get_current_weather",
        description: "Gets the current weather in the provided location.",
        parameters: {
          type: "object",
          properties: {
            location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
            format: { type: "string", enum: ["celsius", "fahrenheit"], default: "celsius" },
          },
          required: ["location"],
        },
      },
      {
        name: "get_multiple_weathers",
        description: "Gets the current weather in the provided list of locations.",
        parameters: {
          type: "object",
          properties: {
            locations: {
              type: "array",
              items: { type: "string" },
              description: 'List of city and state, e.g. ["San Francisco, CA", "New York, NY"]',
            },
            format: { type: "string", enum: ["celsius", "fahrenheit"], default: "celsius" },
          },
          required: ["locations"],
        },
      },
      {
        name: "kitchensink",
        description: "A function with various complex schemas.",
        parameters: {
          description: "params object",
          type: "object",
          properties: {
            string: {
              type: "string",
              title: "STRING",
              description: "A string",
              examples: ["hello", "world"],
            },
            string_nullable: {
              type: "string",
              nullable: true,
              description: "A nullable string",
              default: "the default",
            },
            string_enum: { type: "string", enum: ["a", "b", "c"] },
            oneof_string_or_number: {
              oneOf: [
                { type: "string", default: "default_string_in_oneof" },
                { type: "number", description: "numbers can happen too" },
              ],
              description: "a oneof",
              default: 20,
            },
          },
        },
      },
    ];
    expect(renderFunctionsNamespace(tools)).toBe(
      ns([
        "// Gets the location of the user.",
        "type get_location = () => any;",
        "",
        "// Gets the current weather in the provided location.",
        "type get_current_weather = (_: {",
        "// The city and state, e.g. San Francisco, CA",
        "location: string,",
        'format?: "celsius" | "fahrenheit", // default: celsius',
        "}) => any;",
        "",
        "// Gets the current weather in the provided list of locations.",
        "type get_multiple_weathers = (_: {",
        '// List of city and state, e.g. ["San Francisco, CA", "New York, NY"]',
        "locations: string[],",
        'format?: "celsius" | "fahrenheit", // default: celsius',
        "}) => any;",
        "",
        "// A function with various complex schemas.",
        "type kitchensink = (_: // params object",
        "{",
        "// STRING",
        "//",
        "// A string",
        "// Examples:",
        '// - "hello"',
        '// - "world"',
        "string?: string,",
        "// A nullable string",
        'string_nullable?: string | null, // default: "the default"',
        'string_enum?: "a" | "b" | "c",',
        "// a oneof",
        "// default: 20",
        "oneof_string_or_number?:",
        ' | string // default: "default_string_in_oneof"',
        " | number // numbers can happen too",
        ",",
        "}) => any;",
        "",
      ]),
    );
  });

  it("type arrays and number defaults (harmony test-data/test_browser_tool_only.txt, browser.open)", () => {
    // Harmony's built-in browser `open` schema as its golden shows it: `id?: number | string, // default: -1`.
    const tools: FunctionTool[] = [
      {
        name: "open",
        parameters: {
          type: "object",
          properties: {
            id: { type: ["number", "string"], default: -1 },
            view_source: { type: "boolean", default: false },
            source: { type: "string" },
          },
        },
      },
    ];
    expect(renderFunctionsNamespace(tools)).toBe(
      ns([
        "type open = (_: {",
        "id?: number | string, // default: -1",
        "view_source?: boolean, // default: false",
        "source?: string,",
        "}) => any;",
        "",
      ]),
    );
  });

  it("nested objects and arrays of objects (derived from encoding.rs: object case, array case)", () => {
    // Object case: its description is written before `{` at the nested indent (so a nested
    // object's description appears twice: above the property and on its line), properties at
    // indent + 4, `}` at indent + 4. Array case: `{items}[]` at the same indent, no parentheses;
    // `Array<any>` without items. Required without `?`, integer as number.
    const tools: FunctionTool[] = [
      {
        name: "book",
        parameters: {
          type: "object",
          properties: {
            guest: {
              type: "object",
              description: "Who stays",
              properties: {
                name: { type: "string" },
                address: { type: "object", properties: { city: { type: "string", default: "Paris" } } },
              },
              required: ["name"],
            },
            rooms: {
              type: "array",
              items: { type: "object", properties: { beds: { type: "integer" } }, required: ["beds"] },
            },
            tags: { type: "array" },
            meta: { type: "object" },
          },
          required: ["guest"],
        },
      },
    ];
    expect(renderFunctionsNamespace(tools)).toBe(
      ns([
        "type book = (_: {",
        "// Who stays",
        "guest:     // Who stays",
        "{",
        "    name: string,",
        "    address?: {",
        '        city?: string, // default: "Paris"',
        "        },",
        "    },",
        "rooms?: {",
        "    beds: number,",
        "    }[],",
        "tags?: Array<any>,",
        "meta?: {",
        "    },",
        "}) => any;",
        "",
      ]),
    );
  });

  it("oneOf variants: nullable, descriptions deduplicated, nested unions (derived from encoding.rs oneOf branches)", () => {
    // Property-level oneOf: the property's description is skipped when it equals the first
    // variant's (and then no variant repeats it), and a first variant gets no description once the property's was written above;
    // a nullable variant gets ` | null`; an enum property's string default is bare. An array's
    // items oneOf goes through the top-level branch: `\n{indent} | variant` lines, then `[]`.
    const tools: FunctionTool[] = [
      {
        name: "pick",
        parameters: {
          type: "object",
          properties: {
            same: {
              description: "A or B",
              oneOf: [
                { type: "string", description: "A or B" },
                { type: "number", description: "B", nullable: true },
              ],
            },
            above: {
              description: "Shown above",
              enum: ["x"],
              default: "x",
              oneOf: [
                { type: "string", description: "not shown" },
                { type: "object", properties: { k: { type: "string" } } },
              ],
            },
            list: {
              type: "array",
              items: { oneOf: [{ type: "string" }, { type: "boolean", default: true }] },
            },
          },
          required: ["same"],
        },
      },
    ];
    expect(renderFunctionsNamespace(tools)).toBe(
      ns([
        "type pick = (_: {",
        "same:",
        " | string",
        " | number | null // B",
        ",",
        "// Shown above",
        "// default: x",
        "above?:",
        " | string",
        " | {",
        "   k?: string,",
        "   }",
        ",",
        "list?: ",
        "     | string",
        "     | boolean // default: true[],",
        "}) => any;",
        "",
      ]),
    );
  });
});

describe("where we go beyond harmony (it has no rule and would write any or a bare type)", () => {
  it("anyOf in harmony's oneOf layout, const and non-string enums as literals, type null (Pydantic/zod shapes)", () => {
    // Pydantic v2: Optional[str] = None is anyOf [string, null] with a title; Literal is const.
    const tools: FunctionTool[] = [
      {
        name: "pet",
        parameters: {
          title: "PetArgs",
          type: "object",
          properties: {
            name: { anyOf: [{ type: "string" }, { type: "null" }], default: null, title: "Name" },
            kind: { const: "cat", type: "string", title: "Kind" },
            size: { type: "integer", enum: [1, 2, 3] },
          },
          required: ["kind"],
        },
      },
    ];
    expect(renderFunctionsNamespace(tools)).toBe(
      ns([
        "type pet = (_: {",
        "// Name",
        "//",
        "// default: null",
        "name?:",
        " | string",
        " | null",
        ",",
        "// Kind",
        "//",
        'kind: "cat",',
        "size?: 1 | 2 | 3,",
        "}) => any;",
        "",
      ]),
    );
  });
});
