/**
 * The v4.5.1 test procedure (shared/seeds/test-procedure-v4.5.1.md, Test Suite 1), translated to our
 * command line with `--model tiny`, step by step, against a real server process. Where v4.5.1
 * expected a bug (streaming → 500), we expect it to work. Requests name the models the procedure
 * names (gpt-oss-20b, gpt-oss-120b): unserved here, they fall back to the tiny model and say so
 * (model_fallback), as v4.5.1 fell back to 20b.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  // Step 1: `<server> --engine custom --profile latency_first --model 20b --port 8000`, with tiny.
  server = await startServerProcess(["--engine", "custom", "--profile", "latency_first", "--model", "tiny"]);
  await waitReady(server.url);
});

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

describe("v4.5.1 procedure, Test Suite 1, with --model tiny", () => {
  it("step 2: health check fields", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    const health = (await res.json()) as any;
    expect(health.status).toBe("healthy");
    expect(health.model_info.current_model).toBe("tiny");
    expect(typeof health.model_info.gpu_mode).toBe("string");
    expect(health.model_info.default_profile).toBe("latency_first");
    expect(health.model_info.random_weights).toBe(true);
    expect(health.config.engine_type).toBe("custom");
    expect(Object.keys(health.engines)).toEqual(["custom"]);
    expect(health).toMatchObject({ model_size: "tiny", gpu_mode: health.model_info.gpu_mode });
    expect(health.config.current_profile).toMatchObject({ name: "latency_first", max_new_tokens: 512 });
    expect(health.config.features).toMatchObject({ streaming: true, cancel: true, prefix_cache: true });
  });

  it("step 3: non-streaming request", async () => {
    const res = await post("/v1/chat/completions", {
      model: "gpt-oss-20b",
      messages: [{ role: "user", content: "Write a Python hello world function" }],
      max_tokens: 100,
      temperature: 0.7,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.chosen_engine).toBe("custom");
    expect(body.profile).toBe("latency_first");
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(100);
    expect(body.model).toBe("gpt-oss-tiny");
    expect(body.model_fallback).toMatchObject({ requested: "gpt-oss-20b", served: "gpt-oss-tiny" });
  });

  it("step 4: profile switching per request, without changing the server's default", async () => {
    const res = await post("/v1/chat/completions", {
      model: "gpt-oss-20b",
      messages: [{ role: "user", content: "Explain recursion with examples" }],
      max_tokens: 200,
      profile: "quality_first",
      temperature: 0.8,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).profile).toBe("quality_first");
    const health = (await (await fetch(`${server.url}/health`)).json()) as any;
    expect(health.model_info.default_profile).toBe("latency_first");
  });

  it("step 5: streaming works and ends in [DONE]", async () => {
    const res = await post("/v1/chat/completions", {
      model: "gpt-oss-20b",
      messages: [{ role: "user", content: "Count from 1 to 5" }],
      max_tokens: 30,
      stream: true,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = text.split("\n\n").filter((e) => e.startsWith("data: "));
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    expect(chunks.at(-1).choices[0].finish_reason).toMatch(/^(stop|length)$/);
    for (const c of chunks)
      expect(c).toMatchObject({ object: "chat.completion.chunk", profile: "latency_first" });
  });

  it("Test Suite 2, steps 3-4: gpt-oss-120b (quality_first, then latency_first) falls back to the served model", async () => {
    for (const [content, profile, maxTokens] of [
      [
        "Explain the differences between TCP and UDP protocols with real-world examples",
        "quality_first",
        300,
      ],
      ["What is Docker?", "latency_first", 100],
    ] as const) {
      const res = await post("/v1/chat/completions", {
        model: "gpt-oss-120b",
        messages: [{ role: "user", content }],
        max_tokens: maxTokens,
        temperature: 0.7,
        profile,
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.profile).toBe(profile);
      expect(body.model_fallback).toMatchObject({ requested: "gpt-oss-120b", served: "gpt-oss-tiny" });
      expect(body.usage.completion_tokens).toBeLessThanOrEqual(maxTokens);
    }
  });

  it("step 6: stats fields", async () => {
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as any;
    expect(stats.requests_total).toBeGreaterThanOrEqual(3);
    expect(stats.error_rate).toBeLessThan(0.3);
    expect(stats.p95_ttft_ms).toBeLessThan(10_000);
    expect(stats.model_usage["gpt-oss-tiny"]).toBeGreaterThanOrEqual(3);
    expect(stats.profile_usage.quality_first).toBeGreaterThanOrEqual(1);
    expect(stats.per_profile.latency_first.requests).toBeGreaterThanOrEqual(2);
  });

  it("metrics carry the rich tags (model_size, gpu_mode, engine, profile)", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith("gptoss_requests_total{") && l.includes('profile="quality_first"'));
    expect(line).toBeDefined();
    for (const label of ["model_size=", "gpu_mode=", "engine=", "profile=", "model_id="])
      expect(line).toContain(label);
    // v4.5.1's per-model tags.
    const info = text.split("\n").find((l) => l.startsWith("gptoss_model_info{"));
    for (const label of ['model_id="gpt-oss-tiny"', "tp=", "pp=", 'max_model_len="8192"'])
      expect(info).toContain(label);
    expect(text).toMatch(/^gptoss_active_streams \d+$/m);
  });

  it("simple performance loop: 5 consecutive 'Hello' requests all succeed", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post("/v1/chat/completions", {
        model: "gpt-oss-20b",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 10,
      });
      expect(res.status).toBe(200);
    }
  });
});
