/**
 * The real server process with the tiny random-weight model, driven by the official `openai` client:
 * non-stream, stream, concurrency, cancellation, and every bad input of the server issue.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
let client: OpenAI;
let modelId: string;

interface Stats {
  requests_total: number;
  requests_cancelled: number;
  requests_rejected: number;
  active_requests: number;
  errors_by_code: Record<string, number>;
}

async function stats(): Promise<Stats> {
  return (await (await fetch(`${server.url}/stats`)).json()) as Stats;
}

async function activeRequests(): Promise<number> {
  const health = (await (await fetch(`${server.url}/health`)).json()) as { active_requests: number };
  return health.active_requests;
}

async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const hello = [{ role: "user" as const, content: "Write a Python hello world function" }];

beforeAll(async () => {
  server = await startServerProcess([
    "--model",
    "tiny",
    "--parallel",
    "8",
    "--context-size",
    "1024",
    "--body-limit",
    "65536",
  ]);
  await waitReady(server.url);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const models = await client.models.list();
  modelId = models.data[0]!.id;
});

afterAll(async () => {
  const code = await server?.stop();
  expect(code).toBe(0);
});

describe("chat completions through the openai client", () => {
  it("lists the tiny model and says its weights are random", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-oss-tiny"]);
    expect((models.data[0] as unknown as { random_weights: boolean }).random_weights).toBe(true);
  });

  it("answers a non-streaming request with real token counts and the v4.5.1 extras", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: modelId, messages: hello, max_tokens: 12, temperature: 0.7 })
      .withResponse();
    const body = data as typeof data & { chosen_engine: string; profile: string; request_id: string };
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe(modelId);
    expect(body.chosen_engine).toBe("custom");
    expect(body.profile).toBe("latency_first");
    expect(response.headers.get("x-request-id")).toBe(body.request_id);
    const choice = body.choices[0]!;
    expect(["length", "stop"]).toContain(choice.finish_reason);
    expect(body.usage!.prompt_tokens).toBeGreaterThan(20);
    if (choice.finish_reason === "length") expect(body.usage!.completion_tokens).toBe(12);
    expect(body.usage!.total_tokens).toBe(body.usage!.prompt_tokens + body.usage!.completion_tokens);
  });

  it("streams the same tokens as the non-streaming path for the same seed, ending in [DONE]", async () => {
    const params = { model: modelId, messages: hello, max_tokens: 16, temperature: 1, seed: 1234 };
    const whole = await client.chat.completions.create(params);
    const stream = await client.chat.completions.create({
      ...params,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let reasoning = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning?: string } | undefined;
      content += delta?.content ?? "";
      reasoning += delta?.reasoning ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    const message = whole.choices[0]!.message as { content: string | null; reasoning?: string };
    expect(content).toBe(message.content ?? "");
    expect(reasoning).toBe(message.reasoning ?? "");
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(usage?.completion_tokens).toBe(whole.usage!.completion_tokens);
    // The second identical prompt reuses the first one's cached prefix.
    expect(usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
  });

  it("serves 8 concurrent streams to the end", async () => {
    const runs = Array.from({ length: 8 }, async (_, i) => {
      const stream = await client.chat.completions.create({
        model: modelId,
        messages: [{ role: "user", content: `Stream number ${i}: count to five` }],
        max_tokens: 10,
        stream: true,
        stream_options: { include_usage: true },
      });
      let chunks = 0;
      let completion = -1;
      for await (const chunk of stream) {
        chunks++;
        if (chunk.usage) completion = chunk.usage.completion_tokens;
      }
      return { chunks, completion };
    });
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.completion).toBeGreaterThan(0);
      expect(r.chunks).toBeGreaterThan(2);
    }
    expect(await activeRequests()).toBe(0);
  });

  it("cancels a stream via /v1/cancel/{id}: the stream ends, the sequence is freed, the next request works", async () => {
    const before = await stats();
    const { data: stream, response } = await client.chat.completions
      .create({
        model: modelId,
        messages: hello,
        max_tokens: 900,
        stream: true,
        profile: "quality_first",
      } as never)
      .withResponse();
    const id = response.headers.get("x-request-id")!;
    expect(id).toBeTruthy();
    let chunks = 0;
    let cancelled: Response | undefined;
    const consume = (async () => {
      for await (const _ of stream as unknown as AsyncIterable<unknown>) {
        chunks++;
        if (chunks === 3) cancelled = await fetch(`${server.url}/v1/cancel/${id}`, { method: "POST" });
      }
    })();
    await expect(consume).rejects.toThrow(/cancel/);
    expect(cancelled?.status).toBe(200);
    expect(await cancelled?.json()).toEqual({ status: "cancelled", request_id: id });
    expect(chunks).toBeLessThan(900);
    await waitFor(async () => (await activeRequests()) === 0);
    expect((await stats()).requests_cancelled).toBe(before.requests_cancelled + 1);
    const again = await fetch(`${server.url}/v1/cancel/${id}`, { method: "POST" });
    expect(again.status).toBe(404);
    const next = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 4 });
    expect(next.choices[0]!.finish_reason).toBeDefined();
  });

  it("frees the sequence when the client disconnects mid-stream", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: modelId, messages: hello, max_tokens: 900, stream: true, profile: "quality_first" } as never,
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream as unknown as AsyncIterable<unknown>) {
        if (++chunks === 3) controller.abort();
      }
    } catch {
      // the client's own abort
    }
    await waitFor(async () => (await activeRequests()) === 0);
    const next = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 4 });
    expect(next.usage!.completion_tokens).toBeGreaterThan(0);
  });
});

describe("names, efforts and token budgets other clients send (issue 10)", () => {
  it("retrieves the model in Hugging Face's and Ollama's spellings; an unserved size falls back", async () => {
    expect((await client.models.retrieve("openai/gpt-oss-tiny")).id).toBe("gpt-oss-tiny");
    expect((await client.models.retrieve("gpt-oss:tiny")).id).toBe("gpt-oss-tiny");
    await expect(client.models.retrieve("gpt-oss-120b")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const { data, response } = await client.chat.completions
      .create({
        model: "openai/gpt-oss-120b",
        messages: hello,
        max_tokens: 8,
        reasoning_effort: "minimal",
      })
      .withResponse();
    expect(data.model).toBe("gpt-oss-tiny");
    expect((data as unknown as { model_fallback: { requested: string } }).model_fallback.requested).toBe(
      "openai/gpt-oss-120b",
    );
    expect(response.headers.get("x-gptoss-reasoning-effort")).toBe("low (asked minimal)");
  });

  it("serves max_tokens above latency_first's 512 and says when the answer was cut", async () => {
    const completion = await client.chat.completions.create({
      model: modelId,
      messages: hello,
      max_tokens: 600,
      // Forces the length: the tiny model would otherwise end its turn whenever its noise says so.
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(completion.usage!.completion_tokens).toBe(600);
    expect(completion.choices[0]!.finish_reason).toBe("length");
  });
});

describe("bad input: OpenAI error envelope, counted, server unharmed", () => {
  async function post(
    body: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: any }> {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    return { status: res.status, json: await res.json() };
  }

  function expectEnvelope(json: any, code: string): void {
    expect(json.error).toMatchObject({ code, type: expect.any(String), message: expect.any(String) });
    expect(json.error).toHaveProperty("param");
  }

  const cases: Array<{
    name: string;
    body: () => string;
    status: number;
    code: string;
    check?: (json: any) => void;
  }> = [
    { name: "malformed JSON", body: () => '{"model": "x", "messages": [', status: 400, code: "invalid_json" },
    {
      name: "missing messages",
      body: () => JSON.stringify({ model: "gpt-oss-tiny" }),
      status: 400,
      code: "missing_required_parameter",
    },
    {
      name: "wrong-typed field",
      body: () => JSON.stringify({ model: "gpt-oss-tiny", messages: hello, temperature: "hot" }),
      status: 400,
      code: "invalid_value",
      check: (json) => expect(json.error.param).toBe("temperature"),
    },
    {
      name: "empty messages",
      body: () => JSON.stringify({ model: "gpt-oss-tiny", messages: [] }),
      status: 400,
      code: "invalid_value",
    },
    {
      name: "unknown model",
      body: () => JSON.stringify({ model: "gpt-5-ultra", messages: hello }),
      status: 404,
      code: "model_not_found",
    },
    {
      name: "max_tokens beyond the context",
      body: () => JSON.stringify({ model: "gpt-oss-tiny", messages: hello, max_tokens: 5000 }),
      status: 400,
      code: "context_length_exceeded",
    },
    {
      name: "oversized body",
      body: () =>
        JSON.stringify({ model: "gpt-oss-tiny", messages: [{ role: "user", content: "x".repeat(100_000) }] }),
      status: 413,
      code: "request_too_large",
    },
    {
      name: "unknown profile",
      body: () => JSON.stringify({ model: "gpt-oss-tiny", messages: hello, profile: "fastest" }),
      status: 400,
      code: "unknown_profile",
      check: (json) => expect(json.error.message).toMatch(/latency_first.*quality_first.*balanced/),
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}, counted, next request served`, async () => {
      const before = await stats();
      const { status, json } = await post(c.body());
      expect(status).toBe(c.status);
      expectEnvelope(json, c.code);
      c.check?.(json);
      const after = await stats();
      expect(after.requests_rejected).toBe(before.requests_rejected + 1);
      expect(after.errors_by_code[c.code]).toBe((before.errors_by_code[c.code] ?? 0) + 1);
      const ok = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 2 });
      expect(ok.object).toBe("chat.completion");
    });
  }

  it("the openai client raises typed errors for them", async () => {
    await expect(client.chat.completions.create({ model: "nope", messages: hello })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    await expect(
      client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 5000 }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe("the engine worker process (a native crash costs a restart, not the server)", () => {
  interface WorkerHealth {
    engines: Record<
      string,
      { worker?: { pid: number | null; restarts: number; last_exit: { signal: string | null } | null } }
    >;
  }
  const worker = async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as WorkerHealth;
    return Object.values(health.engines)[0]!.worker!;
  };

  it("SIGKILL mid-stream: the stream ends with engine_restarted, /health/ready is 503 until the worker is back, then it serves", async () => {
    const before = await worker();
    expect(before.pid).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({
      model: modelId,
      messages: hello,
      max_tokens: 400,
      stream: true,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let chunks = 0;
    const read = (async () => {
      for await (const _ of stream) if (++chunks === 2) process.kill(before.pid!, "SIGKILL");
    })();
    await expect(read).rejects.toMatchObject({ code: "engine_restarted" });
    const restarting = await fetch(`${server.url}/health/ready`);
    expect(restarting.status).toBe(503);
    // Issue 11: "503 with restarting", and why (serving/status.ts readiness()).
    expect(await restarting.json()).toMatchObject({
      status: "restarting",
      reason: expect.stringMatching(/^engine .* is restarting/),
    });
    await waitFor(async () => (await fetch(`${server.url}/health/ready`)).status === 200, 30_000);
    const after = await worker();
    expect(after.restarts).toBe(before.restarts + 1);
    expect(after.pid).not.toBe(before.pid);
    expect(after.last_exit?.signal).toBe("SIGKILL");
    const ok = await client.chat.completions.create({ model: modelId, messages: hello, max_tokens: 3 });
    expect(ok.choices[0]!.finish_reason).toBe("length");
  });
});
