/**
 * The newer Responses features through the official `openai` client against the app listening on
 * 127.0.0.1 over the scripted FakeEngine: namespaced and custom tool calls as the client types and
 * accumulates them, reasoning summaries in `responses.stream()`, `inputItems.list()` paging,
 * `background` polled with `retrieve()` and ended with `cancel()`.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFakeApp } from "./helpers/fake-app.ts";
import { FINAL_ANSWER, RecordingScriptForTest } from "./helpers/responses-sse.ts";

const PATCH = "*** Begin Patch\n*** End Patch";
const recorder = new RecordingScriptForTest((prompt) => {
  if (prompt.includes("to=assistant")) return FINAL_ANSWER;
  if (prompt.includes("<|message|>spawn<|end|>")) {
    return '<|channel|>commentary to=agents.spawn <|constrain|>json<|message|>{"task":"t"}<|call|>';
  }
  if (prompt.includes("<|message|>patch<|end|>")) {
    return `<|channel|>commentary to=functions.apply_patch<|message|>${PATCH}<|call|>`;
  }
  if (prompt.includes("<|message|>long<|end|>")) {
    return "<|channel|>final<|message|>" + "word ".repeat(3000) + "<|return|>";
  }
  return FINAL_ANSWER;
});
const { app } = buildFakeApp({ script: recorder.script, tokenDelayMs: 1 });
let client: OpenAI;
const model = "gpt-oss-fake";

const tools: OpenAI.Responses.Tool[] = [
  {
    type: "namespace",
    name: "agents",
    description: "Sub-agents.",
    tools: [
      {
        type: "function",
        name: "spawn",
        parameters: { type: "object", properties: { task: { type: "string" } } },
      },
    ],
  },
  { type: "custom", name: "apply_patch", description: "Apply a patch.", format: { type: "text" } },
  { type: "web_search" },
];

beforeAll(async () => {
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

describe("Responses dialects through the openai client", () => {
  it("a namespaced call is a function_call with name and namespace; the hosted tool is a warning", async () => {
    const { data, response } = await client.responses.create({ model, input: "spawn", tools }).withResponse();
    expect(response.headers.get("x-gptoss-warning")).toContain("web_search");
    const call = data.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ name: "spawn", namespace: "agents", arguments: '{"task":"t"}' });
    const next = await client.responses.create({
      model,
      tools,
      previous_response_id: data.id,
      input: [{ type: "function_call_output", call_id: call!.call_id, output: "ok" }],
    });
    expect(next.output_text).toBe("It is 20 degrees in Paris.");
  });

  it("responses.stream() accumulates a custom tool call's input", async () => {
    const stream = client.responses.stream({ model, input: "patch", tools });
    let deltas = "";
    stream.on("response.custom_tool_call_input.delta", (e) => (deltas += e.delta));
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === "custom_tool_call");
    expect(call).toMatchObject({ name: "apply_patch", input: PATCH });
    expect(deltas).toBe(PATCH);
  });

  it("reasoning summaries: the stream helper assembles the summary the stored response holds", async () => {
    const stream = client.responses.stream({ model, input: "Hi", reasoning: { summary: "auto" } });
    let summary = "";
    stream.on("response.reasoning_summary_text.delta", (e) => (summary += e.delta));
    const final = await stream.finalResponse();
    const reasoning = final.output.find((o) => o.type === "reasoning");
    expect(reasoning?.summary).toEqual([{ type: "summary_text", text: "Answer from the tool result." }]);
    expect(summary).toBe("Answer from the tool result.");
    expect((await client.responses.retrieve(final.id)).output[0]).toEqual(reasoning);
  });

  it("inputItems.list() pages through a response's input items", async () => {
    const response = await client.responses.create({
      model,
      input: [
        { role: "user", content: "one" },
        { role: "user", content: "two" },
        { role: "user", content: "three" },
      ],
    });
    const texts: string[] = [];
    for await (const item of client.responses.inputItems.list(response.id, { limit: 2, order: "asc" })) {
      if (item.type === "message" && item.content[0]?.type === "input_text") texts.push(item.content[0].text);
    }
    expect(texts).toEqual(["one", "two", "three"]);
  });

  it("background: retrieve() polls it to completion; cancel() ends a running one", async () => {
    const queued = await client.responses.create({ model, input: "Hi", background: true });
    expect(["queued", "in_progress"]).toContain(queued.status);
    let done = queued;
    while (done.status === "queued" || done.status === "in_progress") {
      await new Promise((r) => setTimeout(r, 5));
      done = await client.responses.retrieve(queued.id);
    }
    expect(done.status).toBe("completed");
    expect(done.output_text).toBe("It is 20 degrees in Paris.");

    const long = await client.responses.create({ model, input: "long", background: true });
    const cancelled = await client.responses.cancel(long.id);
    expect(cancelled.status).toBe("cancelled");
    expect((await client.responses.retrieve(long.id)).status).toBe("cancelled");
  });
});
