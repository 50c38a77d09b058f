/**
 * Edges a careful client hits (fake engine, in-process): a prompt that fills the context to the
 * last token, max_tokens equal to what is left, and a tool call cut by the token cap (reported
 * as `length` / `incomplete`, never as a finished call), streaming and not.
 */
import { describe, expect, it } from "vitest";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp, sseData } from "./helpers/fake-app.ts";
import { RecordingScriptForTest, WEATHER_CALL, sseEvents } from "./helpers/responses-sse.ts";

const CONTEXT = 512;
type App = ReturnType<typeof buildFakeApp>["app"];

function post(app: App, url: string, body: Record<string, unknown>) {
  return app.inject({ method: "POST", url, payload: { model: "gpt-oss-fake", ...body } });
}

/** User text whose rendered chat prompt is exactly `tokens` long (" a" is one token each). */
async function contentFor(app: App, tokens: number): Promise<string> {
  const count = async (content: string): Promise<number> =>
    (await post(app, "/v1/chat/render", { messages: [{ role: "user", content }] })).json()
      .num_tokens as number;
  const base = await count("x");
  const text = "x" + " a".repeat(tokens - base);
  expect(await count(text)).toBe(tokens);
  return text;
}

describe("the context's last tokens", () => {
  it("a prompt of context - 1 tokens streams one token with 200, never an error event", async () => {
    const { app } = buildFakeApp({
      contextSize: CONTEXT,
      script: () => getHarmonyTokenizer().encode(" b".repeat(50)),
    });
    const content = await contentFor(app, CONTEXT - 1);
    const res = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.statusCode).toBe(200);
    const events = sseData(res.body) as any[];
    expect(events.some((e) => e.error !== undefined)).toBe(false);
    expect(events.at(-1)).toBe("[DONE]");
    expect(events.at(-2).usage.completion_tokens).toBe(1);
    expect(events.at(-3).choices[0].finish_reason).toBe("length");
  });

  it("a prompt of the whole context is refused before the stream starts", async () => {
    const { app } = buildFakeApp({ contextSize: CONTEXT });
    const content = await contentFor(app, CONTEXT);
    const res = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content }],
      stream: true,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("context_length_exceeded");
  });

  it("max_tokens equal to the context left is served in full", async () => {
    const { app } = buildFakeApp({
      contextSize: CONTEXT,
      script: () => getHarmonyTokenizer().encode(" b".repeat(100)),
    });
    const content = await contentFor(app, CONTEXT - 20);
    const res = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content }],
      max_tokens: 20,
      ignore_eos: true,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().usage.completion_tokens).toBe(20);
    const over = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content }],
      max_tokens: 21,
    });
    expect(over.statusCode).toBe(400);
    expect(over.json().error.param).toBe("max_tokens");
  });
});

describe("a tool call cut by the token cap", () => {
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
  const cutAt = getHarmonyTokenizer().encodeWithSpecials(WEATHER_CALL).length - 3;

  it("is finish_reason length in Chat Completions, streaming and not", async () => {
    const recorder = new RecordingScriptForTest(() => WEATHER_CALL);
    const { app } = buildFakeApp({ script: recorder.script });
    const whole = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content: "Hi" }],
      tools,
    });
    expect(whole.json().choices[0].finish_reason).toBe("tool_calls");
    const cut = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content: "Hi" }],
      tools,
      max_tokens: cutAt,
    });
    expect(cut.json().choices[0].finish_reason).toBe("length");
    expect(() =>
      JSON.parse(cut.json().choices[0].message.tool_calls[0].function.arguments as string),
    ).toThrow();
    const stream = await post(app, "/v1/chat/completions", {
      messages: [{ role: "user", content: "Hi" }],
      tools,
      max_tokens: cutAt,
      stream: true,
    });
    const chunks = (sseData(stream.body) as any[]).filter((c) => c !== "[DONE]");
    expect(chunks.at(-1).choices[0].finish_reason).toBe("length");
  });

  it("is status incomplete (max_output_tokens) in the Responses API, streaming and not", async () => {
    const recorder = new RecordingScriptForTest(() => WEATHER_CALL);
    const { app } = buildFakeApp({ script: recorder.script });
    const rtools = [{ type: "function", name: "get_weather", parameters: { type: "object" } }];
    const cut = (
      await post(app, "/v1/responses", { input: "Hi", tools: rtools, max_output_tokens: cutAt })
    ).json();
    expect(cut.status).toBe("incomplete");
    expect(cut.incomplete_details).toEqual({ reason: "max_output_tokens" });
    const res = await post(app, "/v1/responses", {
      input: "Hi",
      tools: rtools,
      max_output_tokens: cutAt,
      stream: true,
    });
    expect(sseEvents(res.body).at(-1)!.event).toBe("response.incomplete");
  });
});
