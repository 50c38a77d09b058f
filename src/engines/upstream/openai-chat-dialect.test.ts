/**
 * The chat-level dialect through UpstreamEngine, against an upstream test double (a plain node:http
 * server with /v1/models and /v1/chat/completions only, no /health) answering as vLLM's chat
 * completions do (`reasoning_content`, streamed tool calls) and as Ollama's (`reasoning`, a whole
 * call in one chunk without an index). The real thing, our own servers as upstreams, is in
 * test/upstream-chat-level-process.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest, ParsedOutputEvent } from "../engine.ts";
import { UpstreamEngine } from "./upstream-engine.ts";
import { openAiChatDialect } from "./openai-chat-dialect.ts";

/** The test double: answers each chat completion with the chunks `answer` gives for its body. */
async function chatServerDouble(
  answer: (body: Record<string, unknown>) => unknown[],
): Promise<{ url: string; server: Server; bodies: Record<string, unknown>[]; modelHits: () => number }> {
  const bodies: Record<string, unknown>[] = [];
  let modelHits = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && req.url === "/v1/models") {
      modelHits++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ object: "list", data: [{ id: "gpt-oss:20b", object: "model" }] }));
      return;
    }
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404).end();
      return;
    }
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const c of answer(body)) res.write(`data: ${JSON.stringify(c)}\n\n`);
      res.end("data: [DONE]\n\n");
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, bodies, modelHits: () => modelHits };
}

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

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "r",
  promptTokens: [1, 2, 3, 4],
  stopTokens: [200002, 200012],
  maxTokens: 64,
  sampling: {
    temperature: 0.5,
    topP: 0.9,
    seed: 7,
    presencePenalty: 0.1,
    frequencyPenalty: 0,
    logitBias: new Map([[5, -100]]),
  },
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

let servers: Server[] = [];
afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
});

async function connect(answer: (body: Record<string, unknown>) => unknown[]) {
  const double = await chatServerDouble(answer);
  servers.push(double.server);
  const engine = await UpstreamEngine.connect({
    url: double.url,
    timeoutMs: 5_000,
    maxRequests: 4,
    contextSize: 1024,
    probeIntervalMs: 0,
    dialect: openAiChatDialect,
  });
  return { engine, ...double };
}

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
    const run = await collectRun(engine, request());
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
      request({ output: { responseFormat: { type: "text" }, tools: [WEATHER], toolChoice: "required" } }),
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
      request({
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
    const run = await collectRun(engine, request());
    expect(parsed(run.events)).toEqual([{ type: "parsed", reasoning: "once" }]);
  });

  it("probes /v1/models for health; a request without the conversation is refused", async () => {
    const { engine, modelHits } = await connect(() => []);
    const before = modelHits();
    await engine.probe();
    expect(modelHits()).toBe(before + 1);
    expect(engine.health().status).toBe("ready");
    const { conversation: _, ...tokensOnly } = request();
    await expect(collectRun(engine, tokensOnly)).rejects.toMatchObject({ code: "engine_error" });
  });
});
