/**
 * Two replicas of the tiny model in one server process (`--replicas 2`: two engine workers behind
 * the router), driven by the official openai client: both show in /health, a repeated prefix goes
 * back to the replica that holds it (cached_tokens > 0 every time), and `kill -9` of one worker
 * under 16 streams costs only that worker's streams: they end with engine_restarted, the rest
 * finish, the server serves on at once and the worker comes back.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
let client: OpenAI;

interface ReplicaView {
  status: string;
  worker: { pid: number | null; restarts: number; last_exit: { signal: string | null } | null };
}
async function replicas(): Promise<ReplicaView[]> {
  const health = (await (await fetch(`${server.url}/health`)).json()) as {
    engines: Record<string, { replicas?: ReplicaView[] }>;
  };
  return Object.values(health.engines)[0]!.replicas ?? [];
}

beforeAll(async () => {
  server = await startServerProcess([
    "--model",
    "tiny",
    "--replicas",
    "2",
    "--parallel",
    "8",
    "--context-size",
    "2048",
  ]);
  await waitReady(server.url);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

describe("two engine replicas behind the router", () => {
  it("/health lists both replicas, each its own worker process", async () => {
    const list = await replicas();
    expect(list.map((r) => r.status)).toEqual(["ready", "ready"]);
    expect(new Set(list.map((r) => r.worker.pid)).size).toBe(2);
  });

  it("a repeated prefix returns to its replica: cached_tokens > 0 on every later turn", async () => {
    const system = "You are a careful assistant. ".repeat(60); // ~360 tokens: several 64-token blocks
    for (let turn = 0; turn < 4; turn++) {
      const answer = await client.chat.completions.create({
        model: "gpt-oss-tiny",
        messages: [
          { role: "system", content: system },
          { role: "user", content: `Question number ${turn}?` },
        ],
        max_tokens: 2,
      });
      const cached = answer.usage?.prompt_tokens_details?.cached_tokens ?? 0;
      if (turn > 0) expect(cached, `turn ${turn}`).toBeGreaterThan(200);
    }
  });

  it("kill -9 of one worker under 16 streams: its streams end with engine_restarted, the others finish", async () => {
    const [first] = await replicas();
    let started = 0;
    const streams = Array.from({ length: 16 }, async (_, i) => {
      const stream = await client.chat.completions.create({
        model: "gpt-oss-tiny",
        messages: [{ role: "user", content: `Stream ${i}: count to a hundred.` }],
        max_tokens: 300,
        stream: true,
        ignore_eos: true,
      } as OpenAI.ChatCompletionCreateParamsStreaming);
      let chunks = 0;
      try {
        for await (const _ of stream) if (++chunks === 2) started++;
        return { ok: true, chunks };
      } catch (error) {
        return { ok: false, chunks, code: (error as { code?: string }).code };
      }
    });
    // Once every stream is generating (16 sequences busy), kill the first replica's worker.
    const deadline = Date.now() + 30_000;
    while (started < 16 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(16);
    const killedAt = Date.now();
    process.kill(first!.worker.pid!, "SIGKILL");
    const results = await Promise.all(streams);
    const failed = results.filter((r) => !r.ok);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => r.code === "engine_restarted")).toBe(true);
    expect(results.filter((r) => r.ok).length).toBeGreaterThan(0);
    // Served again at once by the other replica, well within 10 s of the kill.
    const ok = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: [{ role: "user", content: "Still there?" }],
      max_tokens: 2,
    });
    expect(ok.choices[0]!.finish_reason).toBe("length");
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    // The killed worker comes back.
    for (;;) {
      const list = await replicas();
      if (list[0]!.status === "ready" && list[0]!.worker.restarts === 1) {
        expect(list[0]!.worker.last_exit?.signal).toBe("SIGKILL");
        break;
      }
      if (Date.now() - killedAt > 30_000)
        throw new Error(`replica 0 did not come back: ${JSON.stringify(list)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
