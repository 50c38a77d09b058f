/**
 * The chat-level dialect through UpstreamEngine, against an upstream test double (a plain node:http
 * server with /v1/models and /v1/chat/completions only, no /health) answering as vLLM's chat
 * completions do (`reasoning_content`, streamed tool calls) and as Ollama's (`reasoning`, a whole
 * call in one chunk without an index). The real thing, our own servers as upstreams, is in
 * test/upstream-chat-level-process.test.ts.
 */
import { describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest, ParsedOutputEvent } from "../engine.ts";
import { openAiChatDialect } from "./openai-chat-dialect.ts";
import { connectToDouble, request, sse, type RequestOverrides } from "./upstream-double-for-test.ts";

/**
 * A chat server as a double (/v1/models and /v1/chat/completions, no /health): each chat completion
 * is answered with the chunks `answer` gives for its body.
 */
const connect = (answer: (body: Record<string, unknown>) => unknown[]) =>
  connectToDouble(
    {
      model: { id: "gpt-oss:20b", object: "model" },
      path: "/v1/chat/completions",
      handler: (body, res) => sse(res, answer(body)),
    },
    openAiChatDialect,
  );

const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});
const usage = (prompt: number, completion: number, cached?: number) => ({
  object: "chat.completion.chunk",
  choices: [],
  usage: {
    prompt_tokens: prompt,
    completion_tokens: completion,
    ...(cached !== undefined ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
  },
});

const WEATHER = {
  name: "get_weather",
  description: "Weather of a city",
  parameters: { type: "object", properties: { city: { type: "string" } } },
};

/** A request with its conversation by meaning, as the chat-level dialect needs. */
const chatRequest = (overrides: RequestOverrides = {}): GenerationRequest =>
  request({
    promptTokens: [1, 2, 3, 4],
    maxTokens: 64,
    sampling: { temperature: 0.5, seed: 7, presencePenalty: 0.1 },
    conversation: {
      instructions: "Be brief.",
      reasoningEffort: "high",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          reasoning: "I should call the tool.",
          toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }],
        },
        { role: "tool", toolCallId: "call_1", name: "get_weather", content: '{"c":21}' },
      ],
    },
    ...overrides,
  });

const parsed = (events: readonly { type: string }[]): ParsedOutputEvent[] =>
  events.filter((e): e is ParsedOutputEvent => e.type === "parsed");

describe("the openai-chat dialect (chat-level upstream test double)", () => {
  it("as vLLM: sends the conversation as chat messages and reads reasoning_content, content and usage", async () => {
    const { engine, bodies } = await connect(() => [
      delta({ role: "assistant", content: "" }),
      delta({ reasoning_content: "It is " }),
      delta({ reasoning_content: "sunny." }),
      delta({ content: "21 degrees" }),
      delta({}, "stop"),
      usage(42, 5, 32),
    ]);
    expect(engine.info.capabilities).toMatchObject({ parsedOutput: true, grammar: false });
    const run = await collectRun(engine, chatRequest());
    expect(parsed(run.events)).toEqual([
      { type: "parsed", reasoning: "It is " },
      { type: "parsed", reasoning: "sunny." },
      { type: "parsed", content: "21 degrees" },
    ]);
    // The upstream's own counts settle usage (no per-delta estimate).
    expect(run.finish).toMatchObject({
      reason: "stop",
      usage: { promptTokens: 42, completionTokens: 5, cachedTokens: 32 },
    });
    expect(bodies[0]).toEqual({
      model: "gpt-oss:20b",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: null,
          reasoning_content: "I should call the tool.",
          reasoning: "I should call the tool.",
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", name: "get_weather", content: '{"c":21}' },
      ],
      reasoning_effort: "high",
      max_tokens: 64,
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0,
      logit_bias: { "5": -100 },
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("as vLLM: streamed tool calls (name on the first delta, then arguments) end as a stop; tools and choice are sent", async () => {
    const { engine, bodies } = await connect(() => [
      delta({ reasoning_content: "Need weather." }),
      delta({
        tool_calls: [
          {
            index: 0,
            id: "chatcmpl-tool-1",
            type: "function",
            function: { name: "get_weather", arguments: "" },
          },
        ],
      }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      delta({}, "tool_calls"),
      usage(30, 12),
    ]);
    const run = await collectRun(
      engine,
      chatRequest({ output: { responseFormat: { type: "text" }, tools: [WEATHER], toolChoice: "required" } }),
    );
    expect(parsed(run.events).map((e) => e.toolCall)).toEqual([
      undefined,
      { index: 0, name: "get_weather", arguments: "" },
      { index: 0, arguments: '{"city":' },
      { index: 0, arguments: '"Paris"}' },
    ]);
    expect(run.finish).toMatchObject({ reason: "stop", usage: { completionTokens: 12 } });
    expect(bodies[0]).toMatchObject({
      tools: [{ type: "function", function: WEATHER }],
      tool_choice: "required",
    });
    expect(bodies[0]).not.toHaveProperty("response_format");
  });

  it("as Ollama: `reasoning`, a whole call in one chunk without an index; a named choice and a JSON schema format are sent", async () => {
    const { engine, bodies } = await connect(() => [
      delta({ role: "assistant", content: "", reasoning: "Thinking" }),
      delta({
        content: "",
        tool_calls: [{ id: "call_a", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }],
      }),
      delta({
        tool_calls: [{ id: "call_b", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }],
      }),
      delta({}, "length"),
    ]);
    const schema = { type: "object", properties: { ok: { type: "boolean" } } };
    const run = await collectRun(
      engine,
      chatRequest({
        output: {
          responseFormat: { type: "json_schema", name: "answer", schema, strict: true },
          tools: [WEATHER],
          toolChoice: { name: "get_weather" },
        },
      }),
    );
    expect(parsed(run.events)).toEqual([
      { type: "parsed", reasoning: "Thinking" },
      { type: "parsed", toolCall: { index: 0, name: "get_weather", arguments: '{"city":"Oslo"}' } },
      { type: "parsed", toolCall: { index: 1, name: "get_weather", arguments: '{"city":"Rome"}' } },
    ]);
    // No usage from this server: nothing is guessed.
    expect(run.finish).toMatchObject({ reason: "length", usage: { promptTokens: 4, completionTokens: 0 } });
    expect(bodies[0]).toMatchObject({
      tool_choice: { type: "function", function: { name: "get_weather" } },
      response_format: { type: "json_schema", json_schema: { name: "answer", schema, strict: true } },
    });
  });

  it("as our own server: reasoning sent under both names is read once", async () => {
    const { engine } = await connect(() => [
      delta({ reasoning: "once", reasoning_content: "once" }),
      delta({}, "stop"),
    ]);
    const run = await collectRun(engine, chatRequest());
    expect(parsed(run.events)).toEqual([{ type: "parsed", reasoning: "once" }]);
  });

  it("probes /v1/models for health; a request without the conversation is refused", async () => {
    const { engine, hits } = await connect(() => []);
    const before = hits("/v1/models");
    await engine.probe();
    expect(hits("/v1/models")).toBe(before + 1);
    expect(engine.health().status).toBe("ready");
    const { conversation: _, ...tokensOnly } = chatRequest();
    await expect(collectRun(engine, tokensOnly)).rejects.toMatchObject({ code: "engine_error" });
  });
});
