/**
 * Two models, two replicas each, in one server process (`--model tiny,<a copy of tiny> --replicas
 * 2`: four engine workers, each model behind its own router), driven by the official openai
 * client: both models are listed and answer by their ids, both replicas show in /health, a
 * repeated prefix goes back to the replica that holds it (cached_tokens > 0 every time, affinity
 * hits in /stats), and `kill -9` of one worker under 16 streams costs only that worker's streams:
 * they end with engine_restarted, the rest finish, the server serves on at once, the worker comes
 * back and /metrics counts the restart. SIGTERM then stops every worker with the server.
 * One server for all of it: starting one is the expensive part.
 */
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
let client: OpenAI;
let copyDir: string;
/** The second model: the tiny GGUF under another name, so another model id (size "file"). */
const SECOND = "gpt-oss-tiny-b";

interface ReplicaView {
  status: string;
  worker: { pid: number | null; restarts: number; last_exit: { signal: string | null } | null };
}
/** Each model's replicas in /health, by model id. */
async function allReplicas(): Promise<Record<string, ReplicaView[]>> {
  const health = (await (await fetch(`${server.url}/health`)).json()) as {
    engines: Record<string, { model_id: string; replicas?: ReplicaView[] }>;
  };
  return Object.fromEntries(Object.values(health.engines).map((e) => [e.model_id, e.replicas ?? []]));
}
async function replicas(): Promise<ReplicaView[]> {
  return (await allReplicas())["gpt-oss-tiny"] ?? [];
}

beforeAll(async () => {
  copyDir = await mkdtemp(join(tmpdir(), "gptoss-two-models-"));
  const copy = join(copyDir, `${SECOND}.gguf`);
  await copyFile(process.env["GPTOSS_TINY_MODEL"]!, copy);
  server = await startServerProcess([
    "--model",
    `tiny,${copy}`,
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
  try {
    // SIGTERM drains the workers: once the server has exited, none of its workers is left.
    const pids = Object.values(await allReplicas()).flatMap((list) => list.map((r) => r.worker.pid));
    expect(pids).toHaveLength(4);
    expect(await server.stop()).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid!, 0), `worker ${pid}`).toThrow(/ESRCH/);
  } finally {
    if (server?.child.exitCode === null) await server.stop("SIGKILL");
    await rm(copyDir, { recursive: true, force: true });
  }
});

describe("two models, two engine replicas each", () => {
  it("/v1/models lists both models; each answers by its id", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-oss-tiny", SECOND]);
    for (const id of ["gpt-oss-tiny", SECOND]) {
      const answer = await client.chat.completions.create({
        model: id,
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 2,
      });
      expect(answer.model).toBe(id);
    }
  });

  it("/health lists both replicas of each model, each its own worker process", async () => {
    const all = await allReplicas();
    expect(Object.keys(all)).toEqual(["gpt-oss-tiny", SECOND]);
    for (const list of Object.values(all)) expect(list.map((r) => r.status)).toEqual(["ready", "ready"]);
    const pids = Object.values(all).flatMap((list) => list.map((r) => r.worker.pid));
    expect(new Set(pids).size).toBe(4);
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
    // /stats says so per replica: one of gpt-oss-tiny's replicas had the three later turns as hits.
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as {
      replicas: Array<{ model_id: string; index: number; requests: number; affinity_hits: number }>;
    };
    const tiny = stats.replicas.filter((r) => r.model_id === "gpt-oss-tiny");
    expect(tiny.map((r) => r.index)).toEqual([0, 1]);
    expect(Math.max(...tiny.map((r) => r.affinity_hits))).toBeGreaterThanOrEqual(3);
    expect(stats.replicas.filter((r) => r.model_id === SECOND)).toHaveLength(2);
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

  it("/metrics counts the killed worker's restart and shows its last exit", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('gptoss_engine_worker_restarts_total{model_id="gpt-oss-tiny",replica="0"} 1');
    expect(text).toContain('gptoss_engine_worker_restarts_total{model_id="gpt-oss-tiny",replica="1"} 0');
    expect(text).toMatch(
      /gptoss_engine_worker_last_exit_info\{model_id="gpt-oss-tiny",replica="0",reason="exit \(signal SIGKILL\)",code="",signal="SIGKILL"\} 1/,
    );
    const info = text.split("\n").find((l) => l.startsWith("gptoss_model_info{") && l.includes(SECOND));
    expect(info).toContain('model_size="file"');
  });
});
