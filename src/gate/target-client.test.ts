import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  chunk,
  startFakeOpenAiServerForTest,
  type FakeOpenAiServerForTest,
} from "./fake-openai-server-for-test.ts";
import { normalizeBaseUrl, TargetClient, TargetUnreachableError } from "./target-client.ts";

let server: FakeOpenAiServerForTest | undefined;
let client: TargetClient | undefined;

afterEach(async () => {
  client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

const stream = { model: "fake-model", messages: [], stream: true };

describe("TargetClient.chat keep-alive", () => {
  it("re-sends once on a fresh socket when the server closed the kept-alive one (llama-server does)", async () => {
    let calls = 0;
    server = await startFakeOpenAiServerForTest((_body, res) => {
      calls++;
      // The second request arrives on the first one's socket: drop it without an answer, as a
      // server does that closed the idle connection just as the request was sent.
      if (calls === 2) {
        res.socket?.destroy();
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ content: "Hi" }));
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`);
      res.end("data: [DONE]\n\n");
    });
    client = new TargetClient(server.url);
    expect((await client.chat(stream, { timeoutMs: 5000 })).ok).toBe(true);
    const second = await client.chat(stream, { timeoutMs: 5000 });
    expect(second.ok).toBe(true);
    expect(calls).toBe(3);
  });
});

describe("TargetClient.chat (streaming)", () => {
  it("times TTFT at the first non-empty delta, not at the headers or the role chunk", async () => {
    let seenBody: Record<string, unknown> | undefined;
    server = await startFakeOpenAiServerForTest((body, res) => {
      seenBody = body;
      res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req-1" });
      res.write(chunk({ role: "assistant", content: "" }));
      setTimeout(() => {
        res.write(chunk({ reasoning: "thinking" }));
        res.write(chunk({ content: "Hi" }));
        res.write(
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "length" }] })}\n\n`,
        );
        res.write(
          `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 3 } })}\n\n`,
        );
        res.end("data: [DONE]\n\n");
      }, 60);
    });
    client = new TargetClient(`${server.url}/v1/`);
    let head: string | undefined;
    const r = await client.chat(stream, { timeoutMs: 5000, onHead: (id) => (head = id) });
    expect(r.ok).toBe(true);
    expect(seenBody?.["stream"]).toBe(true);
    expect(head).toBe("req-1");
    expect(r.requestId).toBe("req-1");
    // The token chunks came 60 ms after the role chunk; the role chunk must not count.
    expect((r.firstTokenAt ?? 0) - r.sentAt).toBeGreaterThanOrEqual(50);
    expect(r.tokenTimes).toHaveLength(2);
    expect(r.outputTokens).toBe(3); // usage wins over the chunk count
    expect(r.promptTokens).toBe(9);
    expect(r.finishReason).toBe("length");
    expect(r.sawDone).toBe(true);
  });

  it("fails a stream that carries an error event, or that ends without [DONE]", async () => {
    let mode = "error";
    server = await startFakeOpenAiServerForTest((_body, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ content: "a" }));
      if (mode === "error")
        res.write(`data: ${JSON.stringify({ error: { message: "engine died", code: "engine_error" } })}\n\n`);
      res.end();
    });
    client = new TargetClient(server.url);
    const errored = await client.chat(stream, { timeoutMs: 5000 });
    expect(errored.ok).toBe(false);
    expect(errored.error).toContain("engine died");
    expect(errored.errorCode).toBe("engine_error");
    mode = "truncated";
    const truncated = await client.chat(stream, { timeoutMs: 5000 });
    expect(truncated.ok).toBe(false);
    expect(truncated.error).toContain("[DONE]");
    expect(truncated.outputTokens).toBe(1);
  });

  it("fails an HTTP error with the envelope's message and code", async () => {
    server = await startFakeOpenAiServerForTest((_body, res) => {
      res.writeHead(429, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: { message: "queue full", type: "rate_limit_error", code: "rate_limit_exceeded" },
        }),
      );
    });
    client = new TargetClient(server.url);
    const r = await client.chat(stream, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, status: 429, errorCode: "rate_limit_exceeded" });
    expect(r.error).toContain("queue full");
  });

  it("fails a request that runs past its deadline", async () => {
    server = await startFakeOpenAiServerForTest((_body, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ content: "slow" })); // and never ends
    });
    client = new TargetClient(server.url);
    const r = await client.chat(stream, { timeoutMs: 150 });
    expect(r.ok).toBe(false);
    expect(r.error).toContain("timed out");
  });

  it("reads a non-streaming answer's usage and finish_reason, without a TTFT", async () => {
    server = await startFakeOpenAiServerForTest((_body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 5, completion_tokens: 2 },
        }),
      );
    });
    client = new TargetClient(server.url);
    const r = await client.chat({ model: "fake-model", messages: [], stream: false }, { timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: true, outputTokens: 2, promptTokens: 5, finishReason: "stop" });
    expect(r.firstTokenAt).toBeUndefined();
  });
});

describe("TargetClient plain requests", () => {
  it("throws TargetUnreachableError when nothing listens", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    client = new TargetClient(`http://127.0.0.1:${port}`);
    await expect(client.getJson("/v1/models")).rejects.toBeInstanceOf(TargetUnreachableError);
    const r = await client.chat(stream, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: false, status: 0 });
  });

  it("normalizes base URLs and rejects other schemes", () => {
    expect(normalizeBaseUrl("http://h:8000/v1/")).toBe("http://h:8000");
    expect(normalizeBaseUrl(" http://h:8000 ")).toBe("http://h:8000");
    expect(() => normalizeBaseUrl("ftp://h")).toThrow(/http/);
  });
});
