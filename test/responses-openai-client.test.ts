/**
 * The Responses API through the official `openai` client and its own stream parsers
 * (`responses.create({stream:true})`, `responses.stream()` + `finalResponse()`), against the app
 * listening on 127.0.0.1 over the scripted FakeEngine (a test double for the model).
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerError } from "../src/errors/server-error.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";
import { FINAL_ANSWER, RecordingScriptForTest, WEATHER_CALL } from "./helpers/responses-sse.ts";

const tools: OpenAI.Responses.FunctionTool[] = [
  {
    type: "function",
    name: "get_weather",
    description: "Gets the weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: false,
  },
];

// The script answers by the prompt: a tool result gets the final answer; "fail" an engine error;
// a weather question a call; anything else the final answer.
const recorder = new RecordingScriptForTest((prompt) => {
  if (prompt.includes("<|start|>functions.get_weather to=assistant")) return FINAL_ANSWER;
  if (prompt.includes("<|message|>fail<|end|>")) throw new ServerError("engine_error", "scripted failure");
  return prompt.includes("weather") ? WEATHER_CALL : FINAL_ANSWER;
});
const { app } = buildFakeApp({ script: recorder.script });
let client: OpenAI;
const model = "gpt-oss-fake";

beforeAll(async () => {
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

describe("responses through the openai client", () => {
  it("create() returns a Response whose output_text the client assembles", async () => {
    const response = await client.responses.create({ model, input: "Hello", instructions: "Be brief." });
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("It is 20 degrees in Paris.");
    expect(response.output.map((o) => o.type)).toEqual(["reasoning", "message"]);
    expect(response.usage?.output_tokens).toBeGreaterThan(10);
    expect(response.instructions).toBe("Be brief.");
  });

  it("create({stream:true}) yields typed events the client parses, ending in response.completed", async () => {
    const stream = await client.responses.create({ model, input: "Hello", stream: true });
    const types: string[] = [];
    let text = "";
    let reasoning = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.reasoning_text.delta") reasoning += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(types[0]).toBe("response.created");
    expect(types[1]).toBe("response.in_progress");
    expect(types.at(-1)).toBe("response.completed");
    for (const t of [
      "response.output_item.added",
      "response.content_part.added",
      "response.reasoning_text.done",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
    ]) {
      expect(types).toContain(t);
    }
    expect(text).toBe("It is 20 degrees in Paris.");
    expect(reasoning).toBe("Answer from the tool result.");
    expect(completed?.usage?.total_tokens).toBe(
      (completed?.usage?.input_tokens ?? 0) + (completed?.usage?.output_tokens ?? 0),
    );
  });

  it("responses.stream() accumulates snapshots and finalResponse() equals the stored response", async () => {
    const stream = client.responses.stream({ model, input: "Hello" });
    const snapshots: string[] = [];
    stream.on("response.output_text.delta", (e) => snapshots.push(e.snapshot));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe("It is 20 degrees in Paris.");
    expect(snapshots.at(-1)).toBe("It is 20 degrees in Paris.");
    expect(snapshots.length).toBeGreaterThan(3);
    const reasoning = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.content?.[0]?.text).toBe("Answer from the tool result.");
    const stored = await client.responses.retrieve(final.id);
    // finalResponse() adds the client's own `parsed` fields; the items are otherwise the same.
    expect(stored.output.map((o) => o.id)).toEqual(final.output.map((o) => o.id));
    expect(stored.output_text).toBe(final.output_text);
    expect(stored.usage).toEqual(final.usage);
  });

  it("a function call and its output round-trip through previous_response_id", async () => {
    const stream = client.responses.stream({ model, input: "What is the weather in Paris?", tools });
    const argSnapshots: string[] = [];
    stream.on("response.function_call_arguments.delta", (e) => argSnapshots.push(e.snapshot));
    const first = await stream.finalResponse();
    const call = first.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" });
    expect(argSnapshots.at(-1)).toBe('{"city":"Paris"}');
    if (call?.type !== "function_call") throw new Error("no function call");

    const second = await client.responses.create({
      model,
      tools,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: JSON.stringify({ temp: 20 }) }],
    });
    expect(second.output_text).toBe("It is 20 degrees in Paris.");
    expect(second.previous_response_id).toBe(first.id);
    expect(recorder.prompts.at(-1)).toContain(
      'to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}',
    );
  });

  it("max_output_tokens: the stream ends with response.incomplete and finalResponse() reports it", async () => {
    const final = await client.responses
      .stream({ model, input: "Hello", max_output_tokens: 16 })
      .finalResponse();
    expect(final.status).toBe("incomplete");
    expect(final.incomplete_details?.reason).toBe("max_output_tokens");
  });

  it("an engine failure mid-stream arrives as response.failed with the error", async () => {
    const final = await client.responses.stream({ model, input: "fail" }).finalResponse();
    expect(final.status).toBe("failed");
    expect(final.error).toMatchObject({ code: "engine_error", message: "scripted failure" });
  });

  it("retrieve() and delete() of stored responses; typed errors for unknown ones", async () => {
    const response = await client.responses.create({ model, input: "Hello" });
    await client.responses.delete(response.id);
    await expect(client.responses.retrieve(response.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.create({ model, input: [] })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
  });
});
