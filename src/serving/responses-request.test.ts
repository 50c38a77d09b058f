import { describe, expect, it } from "vitest";
import { ServerError } from "../errors/server-error.ts";
import type { InputItemWire } from "../protocol/responses.ts";
import {
  parseResponsesRequest,
  type HistoryLookup,
  type ResponsesParseOptions,
} from "./responses-request.ts";

const noHistory: HistoryLookup = () => undefined;

function parse(body: Record<string, unknown>, history: HistoryLookup = noHistory) {
  return parseResponsesRequest({ model: "m", ...body }, history);
}

function errorOf(fn: () => unknown): ServerError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ServerError) return error;
    throw error;
  }
  throw new Error("expected a ServerError");
}

describe("parseResponsesRequest", () => {
  it("maps a string input and the defaults", () => {
    const { serving, echo, conversation } = parse({ input: "Hi" });
    expect(serving).toMatchObject({
      messages: [{ role: "user", content: "Hi" }],
      topP: 1,
      stream: false,
      reasoningEffort: "medium",
      toolChoice: "auto",
      tools: [],
      responseFormat: { type: "text" },
      stop: [],
    });
    expect(serving.maxTokens).toBeUndefined();
    expect(serving.temperature).toBeUndefined();
    expect(echo).toMatchObject({
      store: true,
      parallelToolCalls: true,
      previousResponseId: null,
      metadata: {},
    });
    expect(conversation).toEqual([{ type: "message", role: "user", content: "Hi" }]);
  });

  it("keeps temperature 0 and maps max_output_tokens, effort, tools and tool_choice", () => {
    const { serving } = parse({
      input: "Hi",
      temperature: 0,
      max_output_tokens: 64,
      reasoning: { effort: "low", summary: "auto" },
      tools: [
        { type: "function", name: "f", description: "d", parameters: { type: "object" }, strict: true },
      ],
      tool_choice: { type: "function", name: "f" },
    });
    expect(serving.temperature).toBe(0);
    expect(serving.maxTokens).toBe(64);
    expect(serving.reasoningEffort).toBe("low");
    expect(serving.tools).toEqual([{ name: "f", description: "d", parameters: { type: "object" } }]);
    expect(serving.toolChoice).toEqual({ name: "f" });
  });

  it("groups assistant-side items into harmony turns", () => {
    const { serving } = parse({
      input: [
        { role: "system", content: "S" },
        { role: "user", content: [{ type: "input_text", text: "Q" }] },
        { type: "reasoning", summary: [], content: [{ type: "reasoning_text", text: "think" }] },
        { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "42" },
        { type: "reasoning", summary: [{ type: "summary_text", text: "sum" }] },
        {
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: "A", annotations: [] }],
        },
        { role: "developer", content: "D" },
        { role: "user", content: "Q2" },
      ],
      instructions: "I",
    });
    expect(serving.instructions).toBe("I\n\nS\n\nD");
    expect(serving.messages).toEqual([
      { role: "user", content: "Q" },
      { role: "assistant", reasoning: "think", toolCalls: [{ id: "c1", name: "f", arguments: "{}" }] },
      { role: "tool", toolCallId: "c1", name: "f", content: "42" },
      { role: "assistant", reasoning: "sum", content: "A" },
      { role: "user", content: "Q2" },
    ]);
  });

  it("prepends the stored conversation for previous_response_id", () => {
    const stored: InputItemWire[] = [
      { type: "message", role: "user", content: "first" },
      { type: "function_call", call_id: "c9", name: "g", arguments: "{}" },
    ];
    const { serving, conversation, echo } = parse(
      {
        previous_response_id: "resp_1",
        input: [{ type: "function_call_output", call_id: "c9", output: "ok" }],
      },
      (id) => (id === "resp_1" ? stored : undefined),
    );
    expect(echo.previousResponseId).toBe("resp_1");
    expect(conversation).toHaveLength(3);
    expect(serving.messages.at(-1)).toEqual({ role: "tool", toolCallId: "c9", name: "g", content: "ok" });
    const missing = errorOf(() => parse({ previous_response_id: "resp_x", input: "hi" }));
    expect([missing.status, missing.param]).toEqual([400, "previous_response_id"]);
  });

  it("maps text.format to the domain response format", () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"] };
    expect(parse({ input: "x", text: { format: { type: "json_object" } } }).serving.responseFormat).toEqual({
      type: "json_object",
    });
    expect(
      parse({ input: "x", text: { format: { type: "json_schema", name: "out", schema } } }).serving
        .responseFormat,
    ).toEqual({ type: "json_schema", name: "out", schema, strict: false });
  });

  it("rejects what it cannot serve with the field in param", () => {
    const cases: Array<[Record<string, unknown>, string, ResponsesParseOptions?]> = [
      [{ input: "x", background: true, stream: true }, "background"],
      [{ input: "x", background: true, store: false }, "background"],
      [{ input: "x", tools: [{ type: "web_search" }] }, "tools.0.type", { strictTools: true }],
      [{ input: "x", tools: [{ type: "namespace", name: "a.b", tools: [] }] }, "tools.0.name"],
      [
        { input: "x", tools: [{ type: "custom", name: "c", format: { type: "grammar" } }] },
        "tools.0.format.syntax",
      ],
      [
        {
          input: [
            { role: "user", content: "x" },
            { type: "item_reference", id: "rs_1" },
          ],
        },
        "input.1.id",
      ],
      [{ input: [{ role: "tool", content: "x" }] }, "input.0.role"],
      [{ input: [{ type: "function_call", call_id: "c", name: "f" }] }, "input.0.arguments"],
      [
        { input: "x", text: { format: { type: "json_schema", name: "bad name", schema: {} } } },
        "text.format.name",
      ],
      [{ input: "x", tools: [{ type: "function", name: "has space" }] }, "tools.0.name"],
      [{ input: "x", metadata: { k: 1 } }, "metadata.k"],
      [{ input: "x", top_p: 0 }, "top_p"],
      [{ input: "x", tool_choice: "required" }, "tool_choice"],
      // Not a hosted tool: a restriction this server does not implement.
      [{ input: "x", tool_choice: { type: "allowed_tools", mode: "auto", tools: [] } }, "tool_choice.type"],
      [
        {
          input: "x",
          tools: [
            { type: "function", name: "f", strict: true, parameters: { type: "number", multipleOf: 3 } },
          ],
        },
        "tools.0.parameters",
      ],
    ];
    for (const [body, param, options] of cases) {
      const error = errorOf(() => parseResponsesRequest({ model: "m", ...body }, noHistory, options));
      expect(error.param, param).toBe(param);
    }
  });
});

describe("parseResponsesRequest: Responses dialects", () => {
  it("leaves hosted tools out with a warning, echoing every tool as sent", () => {
    const tools = [
      { type: "function", name: "f" },
      { type: "web_search" },
      { type: "mcp", server_label: "x" },
    ];
    const { serving, echo, warnings } = parse({ input: "x", tools });
    expect(serving.tools).toEqual([{ name: "f" }]);
    expect(echo.tools).toEqual(tools);
    expect(warnings).toEqual([
      "tools left out of the prompt (hosted tools this server cannot run): web_search, mcp",
    ]);
  });

  it("resolves item_reference through the lookup, and pairs an output without call_id", () => {
    const items = (id: string): InputItemWire | undefined =>
      id === "fc_1" ? { type: "function_call", call_id: "c1", name: "f", arguments: "{}" } : undefined;
    const { serving, input } = parseResponsesRequest(
      {
        model: "m",
        input: [
          { role: "user", content: "go" },
          { id: "fc_1" },
          { type: "function_call_output", call_id: null, output: "42" },
        ],
      },
      noHistory,
      { items },
    );
    expect(input[1]).toEqual({ type: "function_call", call_id: "c1", name: "f", arguments: "{}" });
    expect(serving.messages.at(-1)).toEqual({ role: "tool", toolCallId: "c1", name: "f", content: "42" });
  });

  it("an output without call_id and no call before it renders unpaired", () => {
    const { serving } = parse({
      input: [
        { role: "user", content: "go" },
        { type: "function_call_output", output: "1" },
      ],
    });
    expect(serving.messages.at(-1)).toEqual({ role: "tool", toolCallId: "", name: "", content: "1" });
  });

  it("echoes reasoning.summary (generate_summary as its old name) and background", () => {
    expect(parse({ input: "x", reasoning: { summary: "auto" } }).echo.reasoningSummary).toBe("auto");
    expect(parse({ input: "x", reasoning: { generate_summary: "concise" } }).echo.reasoningSummary).toBe(
      "concise",
    );
    expect(parse({ input: "x" }).echo).toMatchObject({ reasoningSummary: null, background: false });
    expect(parse({ input: "x", background: true }).echo.background).toBe(true);
  });
});

describe("field names", () => {
  it("a parsed request carries the Responses API's names for the fields the pipeline's errors point at", () => {
    expect(parse({ input: "x" }).serving.fields).toMatchObject({
      maxTokens: "max_output_tokens",
      messages: "input",
      responseFormatSchema: "text.format.schema",
    });
  });
});
