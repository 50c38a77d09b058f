/**
 * POST /v1/responses, GET/DELETE /v1/responses/{id} over the scripted FakeEngine, in-process: every
 * streaming event and its order, the response object, function calls and their outputs,
 * previous_response_id chaining (checked on the prompt the engine saw), the store, cancellation and
 * errors.
 */
import { describe, expect, it } from "vitest";
import { ServerError } from "../src/errors/server-error.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp, runningIds, type FakeAppOptions } from "./helpers/fake-app.ts";
import {
  FINAL_ANSWER,
  RecordingScriptForTest,
  WEATHER_CALL,
  eventShape,
  sseEvents,
} from "./helpers/responses-sse.ts";

const LONG_ANSWER = "<|channel|>final<|message|>" + "word ".repeat(2000) + "<|return|>";

type App = ReturnType<typeof buildFakeApp>["app"];

const weatherTool = {
  type: "function",
  name: "get_weather",
  description: "Gets the weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function post(app: App, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return app.inject({
    method: "POST",
    url: "/v1/responses",
    headers: { "content-type": "application/json", ...headers },
    payload: JSON.stringify({ model: "gpt-oss-fake", ...body }),
  });
}

function weatherApp(options: FakeAppOptions = {}) {
  const recorder = new RecordingScriptForTest((prompt) =>
    prompt.includes("<|start|>functions.get_weather to=assistant") ? FINAL_ANSWER : WEATHER_CALL,
  );
  return { ...buildFakeApp({ script: recorder.script, ...options }), recorder };
}

describe("POST /v1/responses (non-streaming)", () => {
  it("returns reasoning and message output items, real usage and the v4.5.1 extras", async () => {
    const recorder = new RecordingScriptForTest(() => FINAL_ANSWER);
    const { app } = buildFakeApp({ script: recorder.script });
    const res = await post(app, { input: "Hello" }, { "x-request-id": "trace-7" });
    expect(res.statusCode).toBe(200);
    // Our id is random; the client's is echoed beside it for its logs.
    expect(res.headers["x-request-id"]).toMatch(/^req_[\w-]{16}$/);
    expect(res.headers["x-client-request-id"]).toBe("trace-7");
    const body = res.json();
    expect(body).toMatchObject({
      object: "response",
      status: "completed",
      model: "gpt-oss-fake",
      error: null,
      incomplete_details: null,
      store: true,
      chosen_engine: "fake",
      profile: "latency_first",
      request_id: res.headers["x-request-id"],
    });
    expect(body.id).toMatch(/^resp_[0-9a-f]{32}$/);
    const [reasoning, message] = body.output;
    expect(body.output).toHaveLength(2);
    expect(reasoning.id).toMatch(/^rs_/);
    expect(reasoning).toMatchObject({
      type: "reasoning",
      status: "completed",
      content: [{ type: "reasoning_text", text: "Answer from the tool result." }],
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "It is 20 degrees in Paris.", annotations: [] }],
    });
    const tok = getHarmonyTokenizer();
    const script = tok.encodeWithSpecials(FINAL_ANSWER);
    const analysis = tok.encodeWithSpecials("<|channel|>analysis<|message|>Answer from the tool result.");
    expect(body.usage).toEqual({
      input_tokens: recorder.promptLengths[0],
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: script.length,
      output_tokens_details: { reasoning_tokens: analysis.length - 2 },
      total_tokens: recorder.promptLengths[0]! + script.length,
    });
  });

  it("max_output_tokens ends as incomplete with reason max_output_tokens", async () => {
    const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
    const body = (await post(app, { input: "Hello", max_output_tokens: 16 })).json();
    expect(body.status).toBe("incomplete");
    expect(body.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(body.usage.output_tokens).toBe(16);
    expect(body.output.map((o: { type: string }) => o.type)).toEqual(["reasoning", "message"]);
    expect(body.output.at(-1).status).toBe("incomplete");
  });

  it("renders instructions, system/developer items and reasoning.effort into the prompt", async () => {
    const recorder = new RecordingScriptForTest(() => FINAL_ANSWER);
    const { app } = buildFakeApp({ script: recorder.script });
    const body = (
      await post(app, {
        instructions: "Answer in French.",
        reasoning: { effort: "high" },
        input: [
          { role: "developer", content: "Be brief." },
          { type: "message", role: "user", content: [{ type: "input_text", text: "Bonjour" }] },
        ],
      })
    ).json();
    const prompt = recorder.prompts[0]!;
    expect(prompt).toContain("Reasoning: high");
    expect(prompt).toContain("# Instructions\n\nAnswer in French.\n\nBe brief.<|end|>");
    expect(prompt).toContain("<|start|>user<|message|>Bonjour<|end|><|start|>assistant");
    expect(body.instructions).toBe("Answer in French.");
    expect(body.reasoning).toEqual({ effort: "high", summary: null });
  });

  it("echoes tools, tool_choice, text.format, metadata and sampling", async () => {
    const { app } = weatherApp();
    const format = {
      type: "json_schema",
      name: "weather",
      schema: { type: "object", properties: { c: { type: "number" } } },
      strict: true,
    };
    const body = (
      await post(app, {
        input: "Weather?",
        tools: [weatherTool],
        tool_choice: "auto",
        text: { format },
        metadata: { team: "a" },
        temperature: 0.3,
        top_p: 0.9,
        user: "u1",
      })
    ).json();
    expect(body).toMatchObject({
      tools: [weatherTool],
      tool_choice: "auto",
      text: { format },
      metadata: { team: "a" },
      temperature: 0.3,
      top_p: 0.9,
      user: "u1",
    });
  });
});

describe("POST /v1/responses (streaming)", () => {
  it("streams every event of a reasoning + message response, in OpenAI's order", async () => {
    const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
    const res = await post(app, { input: "Hello", stream: true });
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    const events = sseEvents(res.body);
    expect(eventShape(events)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.reasoning_text.delta",
      "response.reasoning_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    for (const [i, e] of events.entries()) {
      expect(e.data.type).toBe(e.event);
      expect(e.data.sequence_number).toBe(i);
    }
    const created = events[0]!.data.response;
    expect(created).toMatchObject({ status: "in_progress", output: [], usage: null });
    const final = events.at(-1)!.data.response;
    expect(final.id).toBe(created.id);
    const [rs, msg] = final.output;
    const of = (type: string) => events.filter((e) => e.event === type).map((e) => e.data);
    // Reasoning: output_index 0, its deltas add up to the done text and the final item.
    const reasoningDeltas = of("response.reasoning_text.delta");
    expect(
      reasoningDeltas.every((d) => d.item_id === rs.id && d.output_index === 0 && d.content_index === 0),
    ).toBe(true);
    expect(reasoningDeltas.map((d) => d.delta).join("")).toBe("Answer from the tool result.");
    expect(of("response.reasoning_text.done")[0].text).toBe(rs.content[0].text);
    // Message: output_index 1.
    const textDeltas = of("response.output_text.delta");
    expect(
      textDeltas.every((d) => d.item_id === msg.id && d.output_index === 1 && d.content_index === 0),
    ).toBe(true);
    expect(textDeltas.map((d) => d.delta).join("")).toBe("It is 20 degrees in Paris.");
    expect(of("response.output_text.done")[0]).toMatchObject({
      text: "It is 20 degrees in Paris.",
      item_id: msg.id,
    });
    const added = of("response.output_item.added");
    expect(added.map((a) => [a.output_index, a.item.type, a.item.status, a.item.content])).toEqual([
      [0, "reasoning", "in_progress", []],
      [1, "message", "in_progress", []],
    ]);
    const parts = of("response.content_part.done");
    expect(parts.map((p) => p.part)).toEqual([rs.content[0], msg.content[0]]);
    expect(of("response.output_item.done").map((d) => d.item)).toEqual(final.output);
    expect(final.usage.output_tokens).toBe(getHarmonyTokenizer().encodeWithSpecials(FINAL_ANSWER).length);
  });

  it("streams a function call: arguments deltas, arguments done, then completed", async () => {
    const { app } = weatherApp();
    const events = sseEvents(
      (await post(app, { input: "Weather in Paris?", tools: [weatherTool], stream: true })).body,
    );
    expect(eventShape(events).slice(-5)).toEqual([
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const added = events.filter((e) => e.event === "response.output_item.added").at(-1)!.data;
    expect(added.item).toMatchObject({
      type: "function_call",
      name: "get_weather",
      arguments: "",
      status: "in_progress",
    });
    expect(added.item.id).toMatch(/^fc_/);
    expect(added.item.call_id).toMatch(/^call_/);
    const deltas = events
      .filter((e) => e.event === "response.function_call_arguments.delta")
      .map((e) => e.data);
    expect(deltas.map((d) => d.delta).join("")).toBe('{"city":"Paris"}');
    expect(deltas.every((d) => d.item_id === added.item.id && d.output_index === 1)).toBe(true);
    const done = events.find((e) => e.event === "response.function_call_arguments.done")!.data;
    expect(done).toMatchObject({ name: "get_weather", arguments: '{"city":"Paris"}', output_index: 1 });
    const final = events.at(-1)!.data.response;
    expect(final.status).toBe("completed");
    expect(final.output[1]).toEqual({ ...added.item, arguments: '{"city":"Paris"}', status: "completed" });
  });

  it("ends with response.incomplete when max_output_tokens cuts the answer", async () => {
    const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
    const events = sseEvents((await post(app, { input: "Hello", stream: true, max_output_tokens: 16 })).body);
    expect(eventShape(events).slice(-4)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    const final = events.at(-1)!.data.response;
    expect(final).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
    });
    expect(events.at(-2)!.data.item.status).toBe("incomplete");
  });

  it("an engine error after the stream started ends it with response.failed", async () => {
    const { app } = buildFakeApp({
      script: () => {
        throw new ServerError("engine_error", "the engine broke");
      },
    });
    const res = await post(app, { input: "Hello", stream: true });
    expect(res.statusCode).toBe(200);
    const events = sseEvents(res.body);
    expect(eventShape(events)).toEqual(["response.created", "response.in_progress", "response.failed"]);
    expect(events.at(-1)!.data.response).toMatchObject({
      status: "failed",
      error: { code: "engine_error", message: "the engine broke" },
    });
  });

  it("/v1/cancel with the X-Request-Id ends the stream with response.failed (request_cancelled)", async () => {
    const recorder = new RecordingScriptForTest(() => LONG_ANSWER);
    const { app, pool } = buildFakeApp({ script: recorder.script, tokenDelayMs: 2 });
    const pending = post(app, { input: "Hello", stream: true });
    // The script runs once the engine has the request: from then on it is generating.
    while (recorder.prompts.length === 0) await new Promise((r) => setTimeout(r, 5));
    const id = runningIds(pool)[0]!;
    const cancel = await app.inject({ method: "POST", url: `/v1/cancel/${id}` });
    expect(cancel.json()).toEqual({ status: "cancelled", request_id: id });
    const res = await pending;
    expect(res.statusCode).toBe(200);
    const events = sseEvents(res.body);
    const last = events.at(-1)!;
    expect(last.event).toBe("response.failed");
    expect(last.data.response).toMatchObject({ status: "failed", error: { code: "request_cancelled" } });
    expect(events.filter((e) => e.event === "response.output_text.delta").length).toBeLessThan(2000);
    expect((await app.inject("/stats")).json().requests_cancelled).toBe(1);
  });

  it("a request cancelled while queued gets 499 request_cancelled, not a 500", async () => {
    const recorder = new RecordingScriptForTest(() => LONG_ANSWER);
    // With keys set, a client's own X-Request-Id cancels its request (request-owners.ts).
    const { app, pool } = buildFakeApp({
      script: recorder.script,
      tokenDelayMs: 2,
      maxSequences: 1,
      config: { apiKey: ["k1"] },
    });
    const auth = { authorization: "Bearer k1" };
    const running = post(app, { input: "first", stream: true }, { ...auth, "x-request-id": "first" });
    while (recorder.prompts.length === 0) await new Promise((r) => setTimeout(r, 5));
    const queued = post(app, { input: "second" }, { ...auth, "x-request-id": "second" });
    while (runningIds(pool).length < 2) await new Promise((r) => setTimeout(r, 5));
    await app.inject({ method: "POST", url: "/v1/cancel/second", headers: auth });
    const res = await queued;
    expect(res.statusCode).toBe(499);
    expect(res.json().error.code).toBe("request_cancelled");
    await app.inject({ method: "POST", url: "/v1/cancel/first", headers: auth });
    expect(sseEvents((await running).body).at(-1)!.event).toBe("response.failed");
    expect(recorder.prompts).toHaveLength(1);
  });
});

describe("function calls and previous_response_id", () => {
  it("function_call → function_call_output round trip renders the call and its result", async () => {
    const { app, recorder } = weatherApp();
    const first = (await post(app, { input: "Weather in Paris?", tools: [weatherTool] })).json();
    const call = first.output.find((o: { type: string }) => o.type === "function_call");
    expect(call).toMatchObject({ name: "get_weather", arguments: '{"city":"Paris"}' });

    const second = (
      await post(app, {
        previous_response_id: first.id,
        tools: [weatherTool],
        input: [{ type: "function_call_output", call_id: call.call_id, output: '{"temp":20}' }],
      })
    ).json();
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output.at(-1).content[0].text).toBe("It is 20 degrees in Paris.");
    const prompt = recorder.prompts[1]!;
    expect(prompt).toContain("<|start|>user<|message|>Weather in Paris?<|end|>");
    // The analysis before the call is kept while the tool loop runs (harmony history rules).
    expect(prompt).toContain(
      "<|start|>assistant<|channel|>analysis<|message|>Need the weather tool for Paris.<|end|>",
    );
    expect(prompt).toContain(
      '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>',
    );
    expect(prompt).toMatch(
      /<\|start\|>functions\.get_weather to=assistant<\|channel\|>commentary<\|message\|>\{"temp":20\}<\|end\|><\|start\|>assistant$/,
    );

    // Sending the same items by hand gives the very same prompt.
    await post(app, {
      tools: [weatherTool],
      input: [
        { role: "user", content: "Weather in Paris?" },
        ...first.output,
        {
          type: "function_call_output",
          call_id: call.call_id,
          output: [{ type: "input_text", text: '{"temp":20}' }],
        },
      ],
    });
    expect(recorder.prompts[2]).toBe(prompt);
  });

  it("chains turns: the second prompt holds the first turn, its answer final, its analysis dropped", async () => {
    const recorder = new RecordingScriptForTest(() => FINAL_ANSWER);
    const { app } = buildFakeApp({ script: recorder.script });
    const first = (await post(app, { input: "My name is Ada.", instructions: "Be kind." })).json();
    const second = (await post(app, { input: "What is my name?", previous_response_id: first.id })).json();
    expect(second.status).toBe("completed");
    const prompt = recorder.prompts[1]!;
    expect(prompt).toContain(
      "<|start|>user<|message|>My name is Ada.<|end|>" +
        "<|start|>assistant<|channel|>final<|message|>It is 20 degrees in Paris.<|end|>" +
        "<|start|>user<|message|>What is my name?<|end|><|start|>assistant",
    );
    expect(prompt).not.toContain("Answer from the tool result.");
    // OpenAI's rule: instructions are not carried over by previous_response_id.
    expect(recorder.prompts[0]).toContain("Be kind.");
    expect(prompt).not.toContain("Be kind.");
    // A third turn chains through both.
    await post(app, { input: "Thanks", previous_response_id: second.id });
    expect(recorder.prompts[2]).toContain("My name is Ada.");
    expect(recorder.prompts[2]).toContain("What is my name?");
  });

  it("store:false responses are neither retrievable nor chainable", async () => {
    const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
    const unstored = (await post(app, { input: "Hi", store: false })).json();
    expect(unstored.store).toBe(false);
    const get = await app.inject(`/v1/responses/${unstored.id}`);
    expect(get.statusCode).toBe(404);
    expect(get.json().error).toMatchObject({ code: "response_not_found", type: "invalid_request_error" });
    const chained = await post(app, { input: "Again", previous_response_id: unstored.id });
    expect(chained.statusCode).toBe(400);
    expect(chained.json().error.param).toBe("previous_response_id");
  });

  it("GET returns the stored response (streamed ones too); DELETE removes it", async () => {
    const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
    const events = sseEvents((await post(app, { input: "Hi", stream: true })).body);
    const streamed = events.at(-1)!.data.response;
    const got = await app.inject(`/v1/responses/${streamed.id}`);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(streamed);
    const del = await app.inject({ method: "DELETE", url: `/v1/responses/${streamed.id}` });
    expect(del.json()).toEqual({ id: streamed.id, object: "response.deleted", deleted: true });
    expect((await app.inject(`/v1/responses/${streamed.id}`)).statusCode).toBe(404);
    expect((await app.inject({ method: "DELETE", url: `/v1/responses/${streamed.id}` })).statusCode).toBe(
      404,
    );
  });

  it("the store is bounded by responsesStoreSize (least recently used goes first)", async () => {
    const { app } = buildFakeApp({
      script: new RecordingScriptForTest(() => FINAL_ANSWER).script,
      config: { responsesStoreSize: 2 },
    });
    const ids: string[] = [];
    for (const input of ["a", "b", "c"]) ids.push((await post(app, { input })).json().id);
    expect((await app.inject(`/v1/responses/${ids[0]}`)).statusCode).toBe(404);
    expect((await app.inject(`/v1/responses/${ids[1]}`)).statusCode).toBe(200);
    expect((await app.inject(`/v1/responses/${ids[2]}`)).statusCode).toBe(200);
  });
});

describe("Responses errors: OpenAI envelope, param names the field", () => {
  const cases: Array<{
    name: string;
    body: Record<string, unknown>;
    status: number;
    code: string;
    param: string | null;
  }> = [
    { name: "missing input", body: {}, status: 400, code: "missing_required_parameter", param: "input" },
    {
      name: "unsupported item type",
      body: { input: [{ type: "web_search_call", id: "x" }] },
      status: 400,
      code: "invalid_value",
      param: "input.0.type",
    },
    {
      name: "image content",
      body: { input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x" }] }] },
      status: 400,
      code: "invalid_value",
      param: "input.0.content.0.type",
    },
    {
      name: "function_call_output without its call",
      body: { input: [{ type: "function_call_output", call_id: "call_nope", output: "1" }] },
      status: 400,
      code: "invalid_value",
      param: "input.0.call_id",
    },
    {
      // Hosted tools at the top level are left out with a warning (responses-tool-dialects.test.ts).
      name: "hosted tool inside a namespace",
      body: { input: "hi", tools: [{ type: "namespace", name: "ns", tools: [{ type: "web_search" }] }] },
      status: 400,
      code: "invalid_value",
      param: "tools.0.tools.0.type",
    },
    {
      name: "tool_choice naming an unknown function",
      body: { input: "hi", tools: [weatherTool], tool_choice: { type: "function", name: "nope" } },
      status: 400,
      code: "invalid_value",
      param: "tool_choice.name",
    },
    {
      name: "unknown reasoning effort",
      body: { input: "hi", reasoning: { effort: "extreme" } },
      status: 400,
      code: "invalid_value",
      param: "reasoning.effort",
    },
    {
      name: "max_output_tokens beyond the context",
      body: { input: "hi", max_output_tokens: 100_000 },
      status: 400,
      code: "context_length_exceeded",
      param: "max_output_tokens",
    },
    {
      name: "only an assistant message",
      body: { input: [{ role: "assistant", content: "hello" }] },
      status: 400,
      code: "invalid_value",
      param: "input",
    },
    {
      name: "unsupported schema keyword",
      body: {
        input: "hi",
        text: { format: { type: "json_schema", name: "n", schema: { type: "number", multipleOf: 3 } } },
      },
      status: 400,
      code: "invalid_value",
      param: "text.format.schema",
    },
    {
      name: "unknown model",
      body: { model: "gpt-9", input: "hi" },
      status: 404,
      code: "model_not_found",
      param: "model",
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code} (param ${c.param})`, async () => {
      const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
      const res = await post(app, c.body);
      expect(res.statusCode).toBe(c.status);
      expect(res.json().error).toMatchObject({ code: c.code, param: c.param, type: "invalid_request_error" });
      expect((await app.inject("/stats")).json().requests_rejected).toBe(1);
    });
  }

  it("a later request still works after a bad one", async () => {
    const { app } = buildFakeApp({ script: new RecordingScriptForTest(() => FINAL_ANSWER).script });
    expect((await post(app, { input: 5 })).statusCode).toBe(400);
    expect((await post(app, { input: "hi" })).json().status).toBe("completed");
  });
});
