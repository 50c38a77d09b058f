/**
 * SSE keep-alive comments (`: keep-alive`) while a streamed request waits in the queue or for its
 * first token, in both APIs, over the scripted FakeEngine; and the openai client reading through them.
 */
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { buildFakeApp, runningIds, sseData } from "./helpers/fake-app.ts";

const KEEP_ALIVE = ": keep-alive\n\n";
const messages = [{ role: "user", content: "Hello" }];

type App = ReturnType<typeof buildFakeApp>["app"];

function post(app: App, url: string, body: Record<string, unknown>) {
  return app.inject({
    method: "POST",
    url,
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ model: "gpt-oss-fake", ...body }),
  });
}

/** Polls until `predicate` holds (tests poll rather than sleep). */
async function until(predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One sequence, busy for about 300 ms with a forced-length request: the next one queues. */
async function busyApp(keepAliveMs: number, config: Record<string, unknown> = {}) {
  const fake = buildFakeApp({
    maxSequences: 1,
    tokenDelayMs: 3,
    config: { sseKeepaliveMs: keepAliveMs, ...config },
  });
  const busy = post(fake.app, "/v1/chat/completions", { messages, max_tokens: 100, ignore_eos: true });
  await until(() => fake.pool.models[0]!.scheduler.snapshot().active === 1);
  return { ...fake, busy };
}

describe("SSE keep-alive", () => {
  it("Chat Completions: a queued stream opens at once and sends keep-alives until its first chunk", async () => {
    const { app, busy } = await busyApp(40);
    const res = await post(app, "/v1/chat/completions", { messages, stream: true, max_tokens: 5 });
    expect((await busy).statusCode).toBe(200);
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-gptoss-reasoning-effort"]).toBe("medium");
    expect(res.body.startsWith(KEEP_ALIVE)).toBe(true);
    expect(res.body.split(KEEP_ALIVE).length - 1).toBeGreaterThanOrEqual(2);
    const events = sseData(res.body);
    expect(events.at(-1)).toBe("[DONE]");
    expect((events[0] as any).choices[0].delta.role).toBe("assistant");
  });

  it("Responses: a queued stream gets keep-alives before response.created", async () => {
    const { app, busy } = await busyApp(40);
    const res = await post(app, "/v1/responses", { input: "Hello", stream: true, max_output_tokens: 5 });
    await busy;
    expect(res.statusCode).toBe(200);
    expect(res.body.startsWith(KEEP_ALIVE)).toBe(true);
    expect(res.body).toContain("event: response.created");
    expect(res.body.indexOf(KEEP_ALIVE)).toBeLessThan(res.body.indexOf("event: response.created"));
  });

  it("a queued stream cancelled after it opened ends with the request_cancelled event", async () => {
    const { app, pool, busy } = await busyApp(20);
    const [busyId] = runningIds(pool);
    const pending = post(app, "/v1/chat/completions", { messages, stream: true, max_tokens: 5 });
    await until(() => pool.models[0]!.scheduler.snapshot().queued === 1);
    const queuedId = runningIds(pool).find((id) => id !== busyId)!;
    await new Promise((r) => setTimeout(r, 50)); // past the keep-alive interval: the stream is open
    const cancel = await app.inject({ method: "POST", url: `/v1/cancel/${queuedId}` });
    expect(cancel.statusCode).toBe(200);
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(res.body.startsWith(KEEP_ALIVE)).toBe(true);
    const events = sseData(res.body);
    expect(events).toHaveLength(1);
    expect((events[0] as any).error.code).toBe("request_cancelled");
    await busy;
  });

  it("fills silences while generating (slow first token), and never when the interval is 0", async () => {
    const slow = buildFakeApp({ tokenDelayMs: 60, config: { sseKeepaliveMs: 25 } });
    const res = await post(slow.app, "/v1/chat/completions", { messages, stream: true, max_tokens: 3 });
    expect(res.body).toContain(KEEP_ALIVE);
    expect(sseData(res.body).at(-1)).toBe("[DONE]");

    const off = await busyApp(0);
    const quiet = await post(off.app, "/v1/chat/completions", { messages, stream: true, max_tokens: 3 });
    await off.busy;
    expect(quiet.body).not.toContain(KEEP_ALIVE);
    expect(quiet.body.startsWith("data: ")).toBe(true);
  });

  it("a stream admitted at once sends no keep-alive; a full queue is still a 429 status", async () => {
    const fast = buildFakeApp({ config: { sseKeepaliveMs: 40 } });
    const res = await post(fast.app, "/v1/chat/completions", { messages, stream: true, max_tokens: 3 });
    expect(res.body).not.toContain(KEEP_ALIVE);
    const full = buildFakeApp({
      maxSequences: 1,
      tokenDelayMs: 3,
      config: { sseKeepaliveMs: 40, maxQueue: 0 },
    });
    const busy = post(full.app, "/v1/chat/completions", { messages, max_tokens: 50, ignore_eos: true });
    await new Promise((r) => setTimeout(r, 20));
    const refused = await post(full.app, "/v1/chat/completions", { messages, stream: true, max_tokens: 3 });
    expect(refused.statusCode).toBe(429);
    await busy;
  });

  it("the openai client reads a queued stream through its keep-alives, in both APIs", async () => {
    const { app, busy } = await busyApp(30);
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused", maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: "gpt-oss-fake",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 40,
        stream: true,
      });
      const finishes: (string | null)[] = [];
      for await (const chunk of stream) finishes.push(chunk.choices[0]?.finish_reason ?? null);
      expect(finishes.at(-1)).toMatch(/^(stop|length)$/);
      const responses = client.responses.stream({
        model: "gpt-oss-fake",
        input: "Hello",
        max_output_tokens: 40,
      });
      const final = await responses.finalResponse();
      expect(final.status).toMatch(/^(completed|incomplete)$/);
      await busy;
    } finally {
      await app.close();
    }
  });
});
