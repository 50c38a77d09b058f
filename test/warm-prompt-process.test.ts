/**
 * `--warm-prompt` in the real server process (tiny model, two engine workers): a long system prompt
 * is in both replicas' prefix caches before the first request, and in a restarted worker's before
 * it takes one again, so the first request that carries it reports its tokens as cached.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

/** About 1,500 tokens of a support policy: what a client sends as its system prompt every time. */
const SYSTEM = Array.from(
  { length: 100 },
  (_, i) => `${i + 1}. Policy ${1000 + i}: answer orders placed in region ${i % 7} within ${i % 5} days.`,
).join("\n");

interface Replica {
  status: string;
  requests: number;
  worker: { pid: number | null; restarts: number };
}

let server: ServerProcess;
let client: OpenAI;
let dir: string;

async function replicas(): Promise<Replica[]> {
  const health = (await (await fetch(`${server.url}/health`)).json()) as {
    engines: Record<string, { replicas?: Replica[] }>;
  };
  return Object.values(health.engines)[0]?.replicas ?? [];
}

async function ask(question: string): Promise<OpenAI.CompletionUsage> {
  const res = await client.chat.completions.create({
    model: "gpt-oss-tiny",
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: question },
    ],
    max_tokens: 2,
    temperature: 0,
  });
  return res.usage!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gptoss-warm-"));
  const file = join(dir, "system.txt");
  await writeFile(file, SYSTEM);
  server = await startServerProcess([
    "--model",
    "tiny",
    "--replicas",
    "2",
    "--parallel",
    "4",
    "--context-size",
    "4096",
    "--warm-prompt",
    file,
  ]);
  await waitReady(server.url);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const warmedLines = (): number =>
  server
    .output()
    .split("\n")
    .filter((l) => l.includes("prefix cache warmed")).length;

describe("--warm-prompt", () => {
  it("warms every replica before the server is ready: the first request's prompt is cached", async () => {
    expect(warmedLines()).toBe(2);
    const usage = await ask("Where is order 12?");
    expect(usage.prompt_tokens).toBeGreaterThan(1_400);
    expect(usage.prompt_tokens_details?.cached_tokens).toBeGreaterThan(usage.prompt_tokens - 20);
  });

  it("keeps the warmed prefix through requests that do not use it while its replica has unused slots", async () => {
    for (const content of ["Hello!", "What can you do?"]) {
      await client.chat.completions.create({
        model: "gpt-oss-tiny",
        messages: [{ role: "user", content }],
        max_tokens: 2,
      });
    }
    const usage = await ask("Do you ship abroad?");
    expect(usage.prompt_tokens_details?.cached_tokens).toBeGreaterThan(usage.prompt_tokens - 20);
  });

  it("warms a worker again after it was killed, before it takes a request", async () => {
    const [first] = await replicas();
    const pid = first!.worker.pid!;
    process.kill(pid, "SIGKILL");
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [now] = await replicas();
      if (now!.worker.restarts === 1 && now!.status === "ready" && now!.worker.pid !== pid) break;
      if (Date.now() > deadline) throw new Error(`replica 0 did not come back:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(warmedLines()).toBe(3);
    // Both replicas hold the prefix and are idle: the first one, just restarted, takes the request.
    const before = (await replicas())[0]!.requests;
    const usage = await ask("Can I return a gift?");
    expect((await replicas())[0]!.requests).toBe(before + 1);
    expect(usage.prompt_tokens_details?.cached_tokens).toBeGreaterThan(usage.prompt_tokens - 20);
  });
});
