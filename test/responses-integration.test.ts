/**
 * The Responses API on the real server process with the tiny random-weight model, through the
 * official `openai` client: a plain request, streamed and not. The model's output is noise, so the
 * assertions are about shape, counts and the store, not about text.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
let client: OpenAI;
const model = "gpt-oss-tiny";

beforeAll(async () => {
  server = await startServerProcess([
    "--model",
    "tiny",
    "--threads",
    "1",
    "--parallel",
    "2",
    "--context-size",
    "1024",
  ]);
  await waitReady(server.url);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

function expectUsage(response: OpenAI.Responses.Response, max: number): void {
  const usage = response.usage!;
  expect(usage.input_tokens).toBeGreaterThan(20);
  expect(usage.output_tokens).toBeGreaterThan(0);
  expect(usage.output_tokens).toBeLessThanOrEqual(max);
  expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
  if (response.status === "incomplete") {
    expect(usage.output_tokens).toBe(max);
    expect(response.incomplete_details?.reason).toBe("max_output_tokens");
  } else {
    expect(response.status).toBe("completed");
  }
}

describe("responses on the tiny model", () => {
  it("answers a plain non-streaming request with real token counts and the v4.5.1 extras", async () => {
    const response = await client.responses.create({ model, input: "Say hello", max_output_tokens: 12 });
    expect(response.object).toBe("response");
    expect(response.id).toMatch(/^resp_/);
    expect(response.model).toBe(model);
    expect(response).toMatchObject({ chosen_engine: "custom", profile: "latency_first" });
    expectUsage(response, 12);
    expect((await client.responses.retrieve(response.id)).usage).toEqual(response.usage);
  });

  it("streams the same request: created first, a terminal event last, counts that add up", async () => {
    const stream = client.responses.stream({ model, input: "Say hello", max_output_tokens: 12 });
    const types: string[] = [];
    stream.on("event", (e) => types.push(e.type));
    const final = await stream.finalResponse();
    expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
    expect(["response.completed", "response.incomplete"]).toContain(types.at(-1));
    expectUsage(final, 12);
    // Sequence: the prompt's prefix was cached by the first request.
    expect(final.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it("a forced call of a namespaced tool comes back with its name and namespace", async () => {
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: "namespace",
        name: "agents",
        description: "Sub-agents.",
        tools: [
          {
            type: "function",
            name: "spawn",
            parameters: { type: "object", properties: { task: { type: "string" } }, required: ["task"] },
          },
        ],
      },
      { type: "web_search" },
    ];
    const response = await client.responses.create({
      model,
      input: "Delegate a task",
      tools,
      tool_choice: { type: "function", name: "spawn" },
      max_output_tokens: 300,
    });
    expect(response.status).toBe("completed");
    const call = response.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ name: "spawn", namespace: "agents" });
    expect(typeof (JSON.parse(call!.arguments) as { task: unknown }).task).toBe("string");
  });

  it("a forced custom tool call comes back as a custom_tool_call with raw input", async () => {
    const response = await client.responses.create({
      model,
      input: "Patch it",
      tools: [{ type: "custom", name: "apply_patch", description: "Apply a patch." }],
      tool_choice: { type: "custom", name: "apply_patch" },
      max_output_tokens: 120,
    });
    if (response.status === "completed") {
      const call = response.output.find((o) => o.type === "custom_tool_call");
      expect(call).toMatchObject({ name: "apply_patch" });
      expect(typeof call!.input).toBe("string");
    } else {
      // Free text has no end the grammar can force: a random model may write until the cap.
      expect(response.incomplete_details?.reason).toBe("max_output_tokens");
    }
  });
});
