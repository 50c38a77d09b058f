/**
 * The chat-level gateway (issue 12): one server process with `--engine upstream --upstream-dialect
 * openai-chat` in front of two of our own server processes serving the tiny model, spoken to as any
 * OpenAI-compatible server is (`/v1/chat/completions`, its reasoning and tool fields), driven by the
 * official openai client: a streamed answer, a tool-call round trip, a JSON-schema answer, the
 * Responses API; /v1/completions is refused (a chat-level upstream returns no tokens).
 *
 * The tiny model has random weights: its upstream's grammar (and steering) gives a constrained
 * answer its shape, so the requests here that need reasoning, a call or JSON ask for a format or a
 * required call, which the upstream enforces.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerProcess } from "./helpers/server-process.ts";
import { startGateway, startTinyUpstreams, type GatewayProcess } from "./helpers/upstream-gateway.ts";

let upstreams: ServerProcess[] = [];
let gateway: GatewayProcess;
let client: OpenAI;

beforeAll(async () => {
  upstreams = await startTinyUpstreams(2, [[], []]);
  gateway = await startGateway(upstreams.map((u) => u.url).join(","), 2, [
    "--upstream-dialect",
    "openai-chat",
  ]);
  client = gateway.client;
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all(upstreams.map((u) => u.stop()));
});

const MODEL = "gpt-oss-tiny";
const SCHEMA = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, sunny: { type: "boolean" } },
  required: ["city", "sunny"],
  additionalProperties: false,
};
const FORMAT = {
  type: "json_schema" as const,
  json_schema: { name: "weather", schema: SCHEMA, strict: true },
};
const TOOLS: OpenAI.Chat.ChatCompletionTool[] = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather of a city",
      parameters: {
        type: "object",
        properties: { unit: { enum: ["c", "f"] } },
        required: ["unit"],
        additionalProperties: false,
      },
    },
  },
];

describe("a chat-level gateway (openai-chat dialect) over two of our own servers", () => {
  it("streams an answer through the upstream's chat API: reasoning and content arrive, with usage", async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Weather in Paris, as JSON?" }],
      response_format: FORMAT,
      max_tokens: 300,
      seed: 1,
      stream: true,
      stream_options: { include_usage: true },
    });
    let reasoning = "";
    let content = "";
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning?: string } | undefined;
      reasoning += delta?.reasoning ?? "";
      content += delta?.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(reasoning).not.toBe("");
    expect(finish).toBe("stop");
    expect(Object.keys(JSON.parse(content) as object).sort()).toEqual(["city", "sunny"]);
    expect(usage?.prompt_tokens).toBeGreaterThan(20);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("a tool call round trip: a required call comes back as tool_calls, then the result goes back up", async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: "user", content: "What is the weather in Paris?" },
    ];
    const first = await client.chat.completions.create({
      model: MODEL,
      messages,
      tools: TOOLS,
      tool_choice: "required",
      max_tokens: 300,
      seed: 2,
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const call = choice.message.tool_calls?.[0];
    expect(call?.type === "function" ? call.function.name : undefined).toBe("get_weather");
    expect(call?.id).toMatch(/^call_/);
    const args =
      call?.type === "function" ? (JSON.parse(call.function.arguments) as { unit: string }) : undefined;
    expect(["c", "f"]).toContain(args?.unit);

    // The call and its reasoning go back with the result (reasoning_content/reasoning upstream).
    messages.push(choice.message, {
      role: "tool",
      tool_call_id: call!.id,
      content: '{"temperature": 21}',
    });
    const second = await client.chat.completions.create({
      model: MODEL,
      messages,
      tools: TOOLS,
      response_format: FORMAT,
      max_tokens: 300,
      seed: 3,
    });
    expect(second.choices[0]?.finish_reason).toBe("stop");
    expect(Object.keys(JSON.parse(second.choices[0]!.message.content!) as object).sort()).toEqual([
      "city",
      "sunny",
    ]);
  });

  it("a json_schema answer parses; the Responses API answers through the same pipeline", async () => {
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Weather in Oslo?" }],
      response_format: FORMAT,
      max_tokens: 300,
      seed: 4,
    });
    const answer = JSON.parse(res.choices[0]!.message.content!) as { city: unknown; sunny: unknown };
    expect(typeof answer.city).toBe("string");
    expect(typeof answer.sunny).toBe("boolean");

    const response = await client.responses.create({
      model: MODEL,
      input: "Weather in Rome?",
      text: { format: { type: "json_schema", name: "weather", schema: SCHEMA, strict: true } },
      // Room for a random-weight model's reasoning (unseeded here: the Responses API has no seed).
      max_output_tokens: 1000,
    });
    expect(response.status).toBe("completed");
    // The grammar lets a model skip its analysis: reasoning, when there is some, is an item of its own.
    const message = response.output.find((item) => item.type === "message");
    expect(message).toBeDefined();
    expect(response.output.filter((item) => item.type !== "reasoning" && item.type !== "message")).toEqual(
      [],
    );
    expect(Object.keys(JSON.parse(response.output_text) as object).sort()).toEqual(["city", "sunny"]);
  });

  it("/v1/completions is refused with a clear 400: a chat-level upstream returns no tokens", async () => {
    const error = await client.completions.create({ model: MODEL, prompt: "Hi" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.param).toBe("model");
    expect(bad.message).toMatch(/needs an engine that generates tokens/);
  });
});
