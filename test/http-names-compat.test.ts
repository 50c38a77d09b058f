/**
 * Model names as other servers spell them, v4.5.1's field names and tags, GET /v1/models/{id}:
 * over the scripted FakeEngine, in-process (app.inject), and through the official openai client.
 */
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { buildFakeApp } from "./helpers/fake-app.ts";

const messages = [{ role: "user", content: "Hello" }];

function chat(app: ReturnType<typeof buildFakeApp>["app"], body: Record<string, unknown>) {
  return app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ messages, max_tokens: 3, ...body }),
  });
}

describe("model names", () => {
  it("reads Hugging Face's, vLLM's and Ollama's spellings of a served model", async () => {
    const { app } = buildFakeApp();
    for (const model of ["gpt-oss-fake", "GPT-OSS-FAKE", "openai/gpt-oss-fake", "gpt-oss:fake", "fake"]) {
      const body = (await chat(app, { model })).json();
      expect(body.model, model).toBe("gpt-oss-fake");
      expect(body.model_fallback, model).toBeUndefined();
    }
    const latest = (await chat(app, { model: "gpt-oss:latest" })).json();
    expect(latest.model).toBe("gpt-oss-fake");
  });

  it("an unserved gpt-oss size falls back to the served model and says so (v4.5.1's release gate)", async () => {
    const { app } = buildFakeApp();
    for (const model of ["gpt-oss-120b", "openai/gpt-oss-120b", "gpt-oss:20b", "120b"]) {
      const res = await chat(app, { model, profile: "quality_first" });
      expect(res.statusCode, model).toBe(200);
      expect(res.json().model).toBe("gpt-oss-fake");
      expect(res.json().model_fallback).toMatchObject({ requested: model, served: "gpt-oss-fake" });
    }
    const unknown = await chat(app, { model: "llama-3-8b" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatchObject({ code: "model_not_found", param: "model" });
  });

  it("--strict-model-names makes an unserved size a 404, and leaves served spellings alone", async () => {
    const { app } = buildFakeApp({ config: { strictModelNames: true } });
    const res = await chat(app, { model: "gpt-oss-120b" });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("model_not_found");
    expect(res.json().error.message).toContain("--strict-model-names");
    expect((await chat(app, { model: "openai/gpt-oss-fake" })).statusCode).toBe(200);
  });

  it("GET /v1/models/{id}: OpenAI's model object for any spelling, 404 model_not_found otherwise", async () => {
    const { app } = buildFakeApp();
    for (const id of ["gpt-oss-fake", "openai/gpt-oss-fake", "gpt-oss:fake", "openai%2Fgpt-oss-fake"]) {
      const res = await app.inject(`/v1/models/${id}`);
      expect(res.statusCode, id).toBe(200);
      expect(res.json()).toMatchObject({ id: "gpt-oss-fake", object: "model", owned_by: expect.any(String) });
    }
    const missing = await app.inject("/v1/models/openai/gpt-oss-120b");
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({ code: "model_not_found", param: "model" });
  });
});

describe("v4.5.1's field names", () => {
  it("profiles in snake_case in /profiles and /health", async () => {
    const { app } = buildFakeApp();
    const profiles = (await app.inject("/profiles")).json();
    const latency = profiles.profiles.find((p: { name: string }) => p.name === "latency_first");
    expect(latency.config).toEqual({
      model: "20b",
      gpu_mode: "pipeline",
      max_batch_size: 16, // v4.5.1's 32, capped by the default --parallel 16
      prefill_window_ms: 4,
      decode_window_ms: 2,
      max_new_tokens: 512,
      temperature: 0.7,
      timeout_ms: 60_000,
      priority: 0,
    });
    const health = (await app.inject("/health")).json();
    expect(health.config.current_profile).toMatchObject({
      name: "latency_first",
      max_new_tokens: 512,
      prefill_window_ms: 4,
    });
    expect(JSON.stringify(health.config.current_profile)).not.toMatch(/[a-z][A-Z]/);
  });

  it("/health: engines keyed by engine type, gpu_count / model_size / gpu_mode at the top", async () => {
    const { app } = buildFakeApp();
    const health = (await app.inject("/health")).json();
    expect(Object.keys(health.engines)).toEqual(["fake"]);
    expect(health.engines.fake).toMatchObject({ status: "ready", model_id: "gpt-oss-fake", engine: "fake" });
    expect(health).toMatchObject({ gpu_count: 0, model_size: "fake", gpu_mode: "cpu" });
    expect(health.config).toMatchObject({ default_max_tokens: "context", max_tokens_cap: null });
  });

  it("/metrics: model_id on request series, gptoss_model_info with tp/pp/max_model_len, active streams", async () => {
    const { app } = buildFakeApp();
    await chat(app, { model: "gpt-oss-fake" });
    const text = (await app.inject("/metrics")).body;
    const request = text.split("\n").find((l) => l.startsWith("gptoss_requests_total{"));
    expect(request).toContain('model_id="gpt-oss-fake"');
    const info = text.split("\n").find((l) => l.startsWith("gptoss_model_info{"));
    for (const tag of [
      'model_id="gpt-oss-fake"',
      'tp="1"',
      'pp="1"',
      'max_model_len="4096"',
      'engine="fake"',
    ])
      expect(info).toContain(tag);
    expect(info).toMatch(/ 1$/);
    expect(text).toMatch(/^gptoss_active_streams 0$/m);
  });
});

describe("through the openai client", () => {
  it("retrieves models by id, slashes and colons included, and falls back for gpt-oss-120b", async () => {
    const { app } = buildFakeApp();
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
      expect((await client.models.retrieve("openai/gpt-oss-fake")).id).toBe("gpt-oss-fake");
      expect((await client.models.retrieve("gpt-oss:fake")).id).toBe("gpt-oss-fake");
      await expect(client.models.retrieve("gpt-oss-120b")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      const completion = await client.chat.completions.create({
        model: "gpt-oss-120b",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 3,
        reasoning_effort: "minimal",
      });
      expect(completion.model).toBe("gpt-oss-fake");
      expect(
        (completion as unknown as { model_fallback: { requested: string } }).model_fallback.requested,
      ).toBe("gpt-oss-120b");
      const { response } = await client.responses
        .create({
          model: "openai/gpt-oss-20b",
          input: "Hello",
          max_output_tokens: 5,
          reasoning: { effort: "minimal" },
        })
        .withResponse();
      expect(response.headers.get("x-gptoss-reasoning-effort")).toBe("low (asked minimal)");
    } finally {
      await app.close();
    }
  });
});
