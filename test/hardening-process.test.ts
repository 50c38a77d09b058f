/**
 * The server process under hostile clients (fake engine: the HTTP, parsing and tokenizing path is
 * the real one): /health stays fast while clients post 4 MB prompts, a stalled upload is cut with
 * 408, and SIGTERM ends within the grace period even with an upload stalled mid-body.
 */
import { connect } from "node:net";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRawResponse } from "./helpers/raw-http.ts";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
let port: number;

beforeAll(async () => {
  server = await startServerProcess([
    "--engine",
    "fake",
    "--body-timeout",
    "800",
    "--shutdown-timeout",
    "1000",
  ]);
  await waitReady(server.url);
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server.stop();
});

/** Opens a request whose body never completes; resolves with what the server answered, if anything. */
function stalledUpload(): { answer: Promise<string>; close: () => void } {
  const socket = connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  socket.on("error", () => undefined);
  socket.write(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
      'Content-Length: 1000\r\n\r\n{"model":"gpt-oss-fake",',
  );
  let data = "";
  socket.on("data", (d: string) => (data += d));
  const answer = once(socket, "close").then(() => data);
  return { answer, close: () => socket.destroy() };
}

function chatBody(content: string): string {
  return JSON.stringify({ model: "gpt-oss-fake", messages: [{ role: "user", content }], max_tokens: 4 });
}

describe("hostile clients against the server process", () => {
  it("/health answers within 100 ms while four clients post 4 MB prompts; they get 400 context_length_exceeded", async () => {
    const prose = "The quick brown fox jumps over the lazy dog; the server keeps answering. ";
    const huge = [
      "a".repeat(4_000_000),
      prose.repeat(Math.ceil(4_000_000 / prose.length)).slice(0, 4_000_000),
      " ".repeat(4_000_000),
      // Within the cheap length bound (8,192 tokens × 128 bytes): tokenized on a worker, refused at the limit.
      prose.repeat(Math.ceil(600_000 / prose.length)),
    ];
    // Built before the probe starts: the test's own JSON.stringify must not count as server latency.
    const bodies = huge.map(chatBody);
    await (await fetch(`${server.url}/health`)).arrayBuffer(); // a warm connection for the probe
    let done = false;
    const latencies: number[] = [];
    const probe = (async () => {
      while (!done) {
        const started = performance.now();
        const res = await fetch(`${server.url}/health`);
        await res.arrayBuffer();
        latencies.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const started = performance.now();
    const answers = await Promise.all(
      bodies.map((body) =>
        fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        }).then(async (res) => ({
          status: res.status,
          body: (await res.json()) as { error: { code: string } },
        })),
      ),
    );
    const elapsed = performance.now() - started;
    done = true;
    await probe;
    for (const a of answers) {
      expect(a.status).toBe(400);
      expect(a.body.error.code).toBe("context_length_exceeded");
    }
    expect(elapsed).toBeLessThan(15_000);
    latencies.sort((x, y) => x - y);
    expect(latencies.length).toBeGreaterThan(3);
    // p95 under 100 ms, and no stall at all (before, every probe waited 70 s). The maximum is not
    // held to 100 ms: on a 2-core CI machine this test's own client shares the cores.
    const shown = latencies.map((l) => l.toFixed(0)).join(" ");
    expect(latencies[Math.floor(latencies.length * 0.95)], shown).toBeLessThan(100);
    expect(latencies.at(-1), shown).toBeLessThan(500);
    // The server still serves.
    const ok = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chatBody("Hi"),
    });
    expect(ok.status).toBe(200);
  });

  it("cuts a stalled upload with 408 body_timeout in the envelope and closes the connection", async () => {
    const started = Date.now();
    const { answer } = stalledUpload();
    const res = parseRawResponse(await answer);
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body).error.code).toBe("body_timeout");
    expect(Date.now() - started).toBeLessThan(5_000);
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as {
      errors_by_code: Record<string, number>;
    };
    expect(stats.errors_by_code.body_timeout).toBeGreaterThanOrEqual(1);
  });

  it("a client that drops its upload is a cancel: no ERROR line, not a 500", async () => {
    const { close } = stalledUpload();
    await new Promise((r) => setTimeout(r, 100));
    close();
    await new Promise((r) => setTimeout(r, 200));
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as {
      requests_failed: number;
      errors_by_code: Record<string, number>;
    };
    expect(stats.requests_failed).toBe(0);
    expect(stats.errors_by_code.internal_error).toBeUndefined();
    expect(server.output()).not.toMatch(/"level_name":"ERROR"/);
  });

  it("SIGTERM exits 0 within the grace period with an upload stalled mid-body", async () => {
    // Keep sending a byte now and then so that the stall timeout never fires: only shutdown ends it.
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
    );
    const drip = setInterval(() => socket.write(" "), 200);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const code = await server.stop("SIGTERM");
    clearInterval(drip);
    socket.destroy();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});
