/**
 * HTTP behaviour over the scripted FakeEngine, in-process (app.inject): profiles acting, SSE
 * framing, reasoning vs content, stop strings, auth, queue limits, ids and the error envelope.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { PROFILES } from "../src/config/profiles.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { demoHarmonyScript } from "../src/engines/fake/demo-script.ts";
import { buildFakeApp, runningIds, sseData } from "./helpers/fake-app.ts";

const messages = [{ role: "user", content: "Hello" }];
const tok = getHarmonyTokenizer();

function chat(app: ReturnType<typeof buildFakeApp>["app"], body: Record<string, unknown>, headers = {}) {
  return app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { "content-type": "application/json", ...headers },
    payload: JSON.stringify({ model: "gpt-oss-fake", messages, ...body }),
  });
}

describe("chat completions over the fake engine", () => {
  it("splits the harmony output into reasoning and content", async () => {
    const { app } = buildFakeApp();
    const res = await chat(app, {});
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.choices[0].message.reasoning).toMatch(/^The user wants an answer/);
    expect(body.choices[0].message.content).toMatch(/^This is the fake engine of gpt-oss-server/);
    expect(body.choices[0].message.content).not.toContain("<|");
    expect(body.choices[0].finish_reason).toBe("stop");
    expect(body.usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(5);
    expect(body.usage.completion_tokens).toBeGreaterThan(
      body.usage.completion_tokens_details.reasoning_tokens,
    );
  });

  it("streams role, reasoning and content deltas, finish, usage, [DONE]; deltas add up to the whole", async () => {
    const { app } = buildFakeApp();
    const whole = (await chat(app, {})).json();
    const res = await chat(app, { stream: true, stream_options: { include_usage: true } });
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    const events = sseData(res.body);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1) as any[];
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.completion_tokens).toBe(whole.usage.completion_tokens);
    const finishChunk = chunks.at(-2);
    expect(finishChunk.choices[0].finish_reason).toBe("stop");
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning ?? "").join("");
    expect(content).toBe(whole.choices[0].message.content);
    expect(reasoning).toBe(whole.choices[0].message.reasoning);
    for (const c of chunks)
      expect(c).toMatchObject({
        chosen_engine: "fake",
        profile: "latency_first",
        request_id: res.headers["x-request-id"],
      });
  });

  it("stop strings end the answer before the stop string, in both forms", async () => {
    const { app } = buildFakeApp();
    const res = await chat(app, { stop: ["not a model"] });
    expect(res.json().choices[0].message.content).toBe(
      "This is the fake engine of gpt-oss-server: a scripted answer, ",
    );
    expect(res.json().choices[0].finish_reason).toBe("stop");
    const stream = sseData((await chat(app, { stop: "not a model", stream: true })).body) as any[];
    const content = stream
      .slice(0, -1)
      .map((c) => c.choices[0]?.delta.content ?? "")
      .join("");
    expect(content).toBe("This is the fake engine of gpt-oss-server: a scripted answer, ");
  });

  it("ignore_eos and min_tokens (vLLM extensions) force longer outputs", async () => {
    const { app } = buildFakeApp();
    const natural = (await chat(app, {})).json().usage.completion_tokens as number;
    const forced = (await chat(app, { ignore_eos: true, max_tokens: natural + 50 })).json();
    expect(forced.usage.completion_tokens).toBe(natural + 50);
    expect(forced.choices[0].finish_reason).toBe("length");
    const min = (await chat(app, { min_tokens: natural + 5, max_tokens: 400 })).json();
    expect(min.usage.completion_tokens).toBeGreaterThanOrEqual(natural + 5);
    expect(min.choices[0].finish_reason).toBe("stop");
  });

  it("max_tokens ends with finish_reason length and exact usage", async () => {
    const { app } = buildFakeApp();
    const body = (await chat(app, { max_tokens: 7 })).json();
    expect(body.choices[0].finish_reason).toBe("length");
    expect(body.usage.completion_tokens).toBe(7);
  });

  it("an explicit max_tokens wins over the profile's max_new_tokens; no max runs until the model stops", async () => {
    // A script longer than every profile's max_new_tokens, with no stop token.
    const long = Array.from({ length: 3000 }, () => tok.encode(" word")[0]!);
    const { app } = buildFakeApp({ script: () => long, contextSize: 8192 });
    const asked = await chat(app, { max_tokens: 2000 });
    expect(asked.json().usage.completion_tokens).toBe(2000); // not latency_first's 512
    expect(asked.json().choices[0].finish_reason).toBe("length");
    expect(asked.headers["x-gptoss-max-tokens"]).toBeUndefined();
    const completion = (await chat(app, { max_completion_tokens: 700, profile: "balanced" })).json();
    expect(completion.usage.completion_tokens).toBe(700);
    // No max: the context left (--default-max-tokens context), so the script's end decides.
    const none = await chat(app, {});
    expect(none.json().usage.completion_tokens).toBe(3000);
    expect(none.headers["x-gptoss-max-tokens"]).toMatch(/^\d+ \(default: context left\)$/);
    const after = (await chat(app, { max_tokens: 5 })).json();
    expect(after.profile).toBe("latency_first");
    const profiles = (await app.inject("/profiles")).json();
    expect(profiles.default).toBe("latency_first");
  });

  it("--default-max-tokens profile makes max_new_tokens the default; --max-tokens-cap caps both, saying so", async () => {
    const long = Array.from({ length: 3000 }, () => tok.encode(" word")[0]!);
    const byProfile = buildFakeApp({
      script: () => long,
      contextSize: 8192,
      config: { defaultMaxTokens: "profile" },
    });
    const latency = await chat(byProfile.app, {});
    expect(latency.json().usage.completion_tokens).toBe(PROFILES.latency_first.maxNewTokens);
    expect(latency.headers["x-gptoss-max-tokens"]).toBe("512 (default: profile)");
    const balanced = (await chat(byProfile.app, { profile: "balanced" })).json();
    expect(balanced.usage.completion_tokens).toBe(PROFILES.balanced.maxNewTokens);
    expect((await chat(byProfile.app, { max_tokens: 1500 })).json().usage.completion_tokens).toBe(1500);

    const capped = buildFakeApp({ script: () => long, contextSize: 8192, config: { maxTokensCap: 100 } });
    const asked = await chat(capped.app, { max_tokens: 2000 });
    expect(asked.json().usage.completion_tokens).toBe(100);
    expect(asked.json().choices[0].finish_reason).toBe("length");
    expect(asked.headers["x-gptoss-max-tokens"]).toBe("100 (asked 2000, --max-tokens-cap)");
    expect((await chat(capped.app, {})).json().usage.completion_tokens).toBe(100);
    expect((await chat(capped.app, { max_tokens: 50 })).json().usage.completion_tokens).toBe(50);
  });

  it("a prompt plus max_tokens beyond the context is a 400 context_length_exceeded", async () => {
    const { app } = buildFakeApp({ contextSize: 4096 });
    const res = await chat(app, { max_tokens: 5000 });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "context_length_exceeded", param: "max_tokens" });
  });

  it("maps reasoning efforts minimal and none to low and xhigh to high, reported in a header", async () => {
    const { app } = buildFakeApp();
    const render = (body: Record<string, unknown>) =>
      app.inject({
        method: "POST",
        url: "/v1/chat/render",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ model: "gpt-oss-fake", messages, ...body }),
      });
    for (const [asked, served] of [
      ["minimal", "low"],
      ["none", "low"],
      ["xhigh", "high"],
    ] as const) {
      const res = await chat(app, { reasoning_effort: asked, max_tokens: 3 });
      expect(res.statusCode).toBe(200);
      expect(res.headers["x-gptoss-reasoning-effort"]).toBe(`${served} (asked ${asked})`);
      expect((await render({ reasoning_effort: asked })).json().prompt).toContain(`Reasoning: ${served}`);
    }
    const plain = await chat(app, { reasoning_effort: "high", max_tokens: 3 });
    expect(plain.headers["x-gptoss-reasoning-effort"]).toBe("high");
    const nested = await chat(app, { reasoning: { effort: "minimal" }, max_tokens: 3, stream: true });
    expect(nested.headers["x-gptoss-reasoning-effort"]).toBe("low (asked minimal)");
    expect((await chat(app, { max_tokens: 3 })).headers["x-gptoss-reasoning-effort"]).toBe("medium");
    expect((await chat(app, { reasoning_effort: "maximal" })).statusCode).toBe(400);
  });

  it("profile auto picks quality_first for long answers and latency_first for short ones", async () => {
    const { app } = buildFakeApp();
    expect((await chat(app, { profile: "auto", max_tokens: 50 })).json().profile).toBe("latency_first");
    expect((await chat(app, { profile: "auto", max_tokens: 1500 })).json().profile).toBe("quality_first");
  });

  it("model 'auto' routes by profile and reports the fallback when the preferred model is not served", async () => {
    const { app } = buildFakeApp();
    const body = (await chat(app, { model: "auto", profile: "quality_first", max_tokens: 3 })).json();
    expect(body.model).toBe("gpt-oss-fake");
    expect(body.model_fallback).toMatchObject({ requested: "gpt-oss-120b", served: "gpt-oss-fake" });
  });

  it("gives every request a random id of its own and echoes a client's X-Request-Id beside it", async () => {
    const { app } = buildFakeApp();
    const res = await chat(app, { max_tokens: 2 }, { "x-request-id": "my-trace-42" });
    const id = res.headers["x-request-id"] as string;
    expect(id).toMatch(/^req_[\w-]{16}$/); // 96 random bits
    expect(res.headers["x-client-request-id"]).toBe("my-trace-42");
    expect(res.json().request_id).toBe(id);
    expect(res.json().id).toBe(`chatcmpl-${id}`);
    const again = await chat(app, { max_tokens: 2 }, { "x-request-id": "my-trace-42" });
    expect(again.headers["x-request-id"]).not.toBe(id);
  });
});

describe("malformed model output", () => {
  it("is served as text with 200, counted per error in /metrics, and logged once per request", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const garbage = tok.encodeWithSpecials(
      "one<|message|>two<|channel|><|message|>three<|start|><|message|>four<|return|>",
    );
    const { app } = buildFakeApp({ script: () => garbage, logger });
    const res = await chat(app, { max_tokens: 50 });
    expect(res.statusCode).toBe(200);
    expect(res.json().choices[0].message.content).toContain("four");
    const metrics = (await app.inject("/metrics")).body;
    const counted = /gptoss_harmony_parse_errors_total\{[^}]*\} (\d+)/.exec(metrics);
    expect(Number(counted?.[1])).toBeGreaterThan(1);
    const logged = lines.filter((l) => l.includes("harmony parse errors"));
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0]!).parse_errors).toBe(Number(counted?.[1]));
  });
});

describe("POST /v1/chat/render", () => {
  it("returns exactly the prompt tokens the engine receives, with the text form", async () => {
    let seen: readonly number[] = [];
    const demo = demoHarmonyScript();
    const { app } = buildFakeApp({
      script: (req) => {
        seen = req.promptTokens;
        return demo(req);
      },
    });
    const body = {
      messages: [
        { role: "system", content: "Answer in French." },
        { role: "user", content: "Weather? <|end|>" },
      ],
      tools: [
        {
          type: "function",
          function: { name: "get_weather", parameters: { type: "object", properties: {} } },
        },
      ],
      max_tokens: 3,
    };
    expect((await chat(app, body)).statusCode).toBe(200);
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/render",
      payload: { model: "gpt-oss-fake", ...body },
    });
    expect(res.statusCode).toBe(200);
    const rendered = res.json();
    expect(rendered.token_ids).toEqual([...seen]);
    expect(rendered.num_tokens).toBe(seen.length);
    expect(rendered.prompt).toMatch(/^<\|start\|>system<\|message\|>/);
    expect(rendered.prompt).toContain("# Instructions\n\nAnswer in French.");
    expect(rendered.prompt).toContain("type get_weather = () => any;");
    expect(rendered.prompt.endsWith("<|start|>assistant")).toBe(true);
    // The user's "<|end|>" is text, not a control token: only the messages' own ends are 200007.
    expect(rendered.token_ids.filter((t: number) => t === 200007)).toHaveLength(3);
  });

  it("answers bad requests in the envelope", async () => {
    const { app } = buildFakeApp();
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/render",
      payload: { model: "x", messages: [] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("invalid_value");
  });
});

describe("errors over the fake engine", () => {
  it("answers 503 model_loading (and /health 503 loading) before the model is ready", async () => {
    const { app } = buildFakeApp({ loading: true });
    const res = await chat(app, {});
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("model_loading");
    const health = await app.inject("/health");
    expect(health.statusCode).toBe(503);
    expect(health.json().status).toBe("loading");
  });

  it("requires the API key when one is set, but not on liveness and readiness", async () => {
    const { app } = buildFakeApp({ config: { apiKey: ["s3cret"] } });
    expect((await chat(app, {})).statusCode).toBe(401);
    expect((await chat(app, {}, { authorization: "Bearer wrong" })).json().error.code).toBe(
      "invalid_api_key",
    );
    expect((await chat(app, { max_tokens: 2 }, { authorization: "Bearer s3cret" })).statusCode).toBe(200);
    expect((await app.inject("/health")).statusCode).toBe(401);
    expect((await app.inject("/health/live")).statusCode).toBe(200);
    expect((await app.inject("/health/ready")).statusCode).toBe(200);
  });

  it("gives 429 with Retry-After when the queue is full, and serves again afterwards", async () => {
    const { app } = buildFakeApp({ config: { maxQueue: 0 }, maxSequences: 1, tokenDelayMs: 20 });
    const first = chat(app, { max_tokens: 10 });
    await new Promise((r) => setTimeout(r, 30));
    const second = await chat(app, { max_tokens: 2 });
    expect(second.statusCode).toBe(429);
    expect(second.json().error.code).toBe("rate_limit_exceeded");
    expect(Number(second.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect((await first).statusCode).toBe(200);
    expect((await chat(app, { max_tokens: 2 })).statusCode).toBe(200);
  });

  it("a request cancelled while queued gets 499 request_cancelled, not a 500", async () => {
    const fake = buildFakeApp({ maxSequences: 1, tokenDelayMs: 10, config: { apiKey: ["k1"] } });
    const auth = { authorization: "Bearer k1" };
    const running = chat(fake.app, { max_tokens: 30 }, auth);
    await new Promise((r) => setTimeout(r, 20));
    const queued = chat(fake.app, { max_tokens: 2 }, { ...auth, "x-request-id": "queued-1" });
    await new Promise((r) => setTimeout(r, 20));
    const cancel = await fake.app.inject({ method: "POST", url: "/v1/cancel/queued-1", headers: auth });
    expect(cancel.statusCode).toBe(200);
    const res = await queued;
    expect(res.statusCode).toBe(499);
    expect(res.json().error.code).toBe("request_cancelled");
    expect((await running).statusCode).toBe(200);
    expect(fake.stats.snapshot({ modelInfo: {} as never }).requests_cancelled).toBe(1);
  });

  it("refuses new work with 503 while shutting down", async () => {
    const fake = buildFakeApp();
    fake.shutdown.value = true;
    const res = await chat(fake.app, {});
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("shutting_down");
  });

  it("404s unknown routes and unknown cancel ids in the envelope", async () => {
    const { app } = buildFakeApp();
    const route = await app.inject("/v1/nothing");
    expect(route.statusCode).toBe(404);
    expect(route.json().error.code).toBe("not_found");
    const cancel = await app.inject({ method: "POST", url: "/v1/cancel/nope" });
    expect(cancel.statusCode).toBe(404);
    expect(cancel.json().error.code).toBe("request_not_found");
  });

  it("rejects tool_choice naming an unknown tool and unknown response format types", async () => {
    const { app } = buildFakeApp();
    const res = await chat(app, { tool_choice: { type: "function", function: { name: "nope" } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("tool_choice");
    const fmt = await chat(app, { response_format: { type: "xml" } });
    expect(fmt.statusCode).toBe(400);
    expect(fmt.json().error.param).toBe("response_format.type");
  });

  it("reads a body sent without a JSON content type (curl -d) as JSON", async () => {
    const { app } = buildFakeApp();
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: JSON.stringify({ model: "gpt-oss-fake", messages, max_tokens: 2 }),
    });
    expect(res.statusCode).toBe(200);
  });

  it("reads a text/plain body as JSON too; one that is not JSON is 400 invalid_json in the envelope", async () => {
    const { app } = buildFakeApp();
    const post = (payload: string) =>
      app.inject({
        method: "POST",
        url: "/v1/chat/completions",
        headers: { "content-type": "text/plain" },
        payload,
      });
    const ok = await post(JSON.stringify({ model: "gpt-oss-fake", messages, max_tokens: 2 }));
    expect(ok.statusCode).toBe(200);
    expect(ok.json().object).toBe("chat.completion");
    const bad = await post("model=gpt-oss-fake&messages=hi");
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: "invalid_json", type: "invalid_request_error" });
    expect(typeof bad.json().error.message).toBe("string");
  });
});

describe("cancel without keys", () => {
  it("a client's own X-Request-Id cannot cancel anyone's request; only our random id does", async () => {
    const fake = buildFakeApp({ tokenDelayMs: 5 });
    const running = chat(fake.app, { max_tokens: 200 }, { "x-request-id": "victim-trace-1" });
    // Poll (no fixed sleep) until the request is in the scheduler.
    while (runningIds(fake.pool).length === 0) await new Promise((r) => setImmediate(r));
    const byClientId = await fake.app.inject({ method: "POST", url: "/v1/cancel/victim-trace-1" });
    expect(byClientId.statusCode).toBe(404);
    expect(byClientId.json().error.code).toBe("request_not_found");
    // Still running: the attempt touched nothing.
    const [id] = runningIds(fake.pool);
    expect(id).toMatch(/^req_[\w-]{16}$/);
    const byOurId = await fake.app.inject({ method: "POST", url: `/v1/cancel/${id}` });
    expect(byOurId.json()).toEqual({ status: "cancelled", request_id: id });
    expect((await running).statusCode).toBe(499);
  });
});
