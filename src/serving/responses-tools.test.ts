import { describe, expect, it } from "vitest";
import { ServerError } from "../errors/server-error.ts";
import { findTool, parseResponsesTools, resolveToolChoice } from "./responses-tools.ts";

function errorOf(fn: () => unknown): ServerError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ServerError) return error;
    throw error;
  }
  throw new Error("expected a ServerError");
}

const ns = {
  type: "namespace",
  name: "agents",
  description: "Sub-agents.",
  tools: [
    {
      type: "function",
      name: "spawn",
      parameters: { type: "object", properties: { task: { type: "string" } } },
    },
    { type: "custom", name: "script" },
  ],
};

describe("parseResponsesTools", () => {
  it("maps function, namespace and custom tools; hosted ones are left out once each", () => {
    const parsed = parseResponsesTools(
      [
        { type: "function", name: "f", description: "F." },
        ns,
        {
          type: "custom",
          name: "patch",
          format: { type: "grammar", syntax: "lark", definition: "start: x" },
        },
        { type: "web_search" },
        { type: "web_search" },
        { type: "file_search" },
      ],
      false,
    );
    expect(parsed.tools).toEqual([
      { name: "f", description: "F." },
      {
        name: "spawn",
        parameters: { type: "object", properties: { task: { type: "string" } } },
        namespace: "agents",
      },
      { name: "script", namespace: "agents", freeform: { type: "text" } },
      { name: "patch", freeform: { type: "grammar", syntax: "lark", definition: "start: x" } },
    ]);
    expect(parsed.namespaces).toEqual([{ name: "agents", description: "Sub-agents." }]);
    expect(parsed.leftOut).toEqual(["web_search", "file_search"]);
    expect(parsed.echo).toHaveLength(6);
  });

  it("a namespace named functions is the default namespace", () => {
    const parsed = parseResponsesTools(
      [{ type: "namespace", name: "functions", tools: [{ type: "function", name: "g" }] }],
      false,
    );
    expect(parsed.tools).toEqual([{ name: "g" }]);
    expect(parsed.namespaces).toEqual([]);
  });

  it("refuses hosted tools under strict tools, and a tool defined twice", () => {
    const hosted = errorOf(() =>
      parseResponsesTools([{ type: "function", name: "f" }, { type: "mcp" }], true),
    );
    expect([hosted.code, hosted.param]).toEqual(["unsupported_tool", "tools.1.type"]);
    const twice = errorOf(() =>
      parseResponsesTools(
        [ns, { type: "namespace", name: "agents", tools: [{ type: "function", name: "spawn" }] }],
        false,
      ),
    );
    expect(twice.message).toContain("'agents.spawn' is defined twice");
    // Strict functions inside a namespace are held to the grammar like top-level ones.
    const strict = errorOf(() =>
      parseResponsesTools(
        [
          {
            type: "namespace",
            name: "n",
            tools: [
              {
                type: "function",
                name: "f",
                strict: true,
                parameters: { type: "number", minimum: 1, not: {} },
              },
            ],
          },
        ],
        false,
      ),
    );
    expect(strict.param).toMatch(/^tools\.0\.tools\.0\.parameters/);
    // A regex format must compile: it is enforced on the input.
    const regex = errorOf(() =>
      parseResponsesTools(
        [{ type: "custom", name: "c", format: { type: "grammar", syntax: "regex", definition: "(?=a)a" } }],
        false,
      ),
    );
    expect(regex.param).toBe("tools.0.format.definition");
  });
});

describe("findTool and resolveToolChoice", () => {
  const { tools } = parseResponsesTools([{ type: "function", name: "f" }, ns], false);

  it("finds a tool by its recipient key, or by a bare name that is unique", () => {
    expect(findTool(tools, "agents.spawn")?.namespace).toBe("agents");
    expect(findTool(tools, "spawn")?.namespace).toBe("agents");
    expect(findTool(tools, "functions.f")?.name).toBe("f");
    expect(findTool(tools, "nope")).toBeUndefined();
  });

  it("names the tool by its key; the kind must match", () => {
    expect(resolveToolChoice({ type: "function", name: "spawn" }, tools)).toEqual({ name: "agents.spawn" });
    expect(resolveToolChoice({ type: "custom", name: "agents.script" }, tools)).toEqual({
      name: "agents.script",
    });
    expect(errorOf(() => resolveToolChoice({ type: "function", name: "script" }, tools)).param).toBe(
      "tool_choice.name",
    );
    expect(errorOf(() => resolveToolChoice("required", [])).param).toBe("tool_choice");
  });
});
