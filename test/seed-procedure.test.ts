/**
 * The v4.5.1 test procedure (shared/seeds/test-procedure-v4.5.1.md, Test Suite 1), translated to our
 * command line with `--model tiny`, step by step, against a real server process. Where v4.5.1
 * expected a bug (streaming → 500), we expect it to work. Requests name the models the procedure
 * names (gpt-oss-20b, gpt-oss-120b): unserved here, they fall back to the tiny model and say so
 * (model_fallback), as v4.5.1 fell back to 20b.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gateOptionsFrom } from "../src/gate/gate-cli.ts";
import { realClock } from "../src/gate/gate-clock.ts";
import { EXIT_PASSED, runGate } from "../src/gate/gate-command.ts";
import { SEED_REQUESTS } from "../src/gate/gate-seed.ts";
import type { GateReport } from "../src/gate/gate-types.ts";
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
    const res = await post("/v1/chat/completions", SEED_REQUESTS.helloWorld);
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
    const res = await post("/v1/chat/completions", SEED_REQUESTS.recursion);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).profile).toBe("quality_first");
    const health = (await (await fetch(`${server.url}/health`)).json()) as any;
    expect(health.model_info.default_profile).toBe("latency_first");
  });

  it("step 5: streaming works and ends in [DONE]", async () => {
    const res = await post("/v1/chat/completions", SEED_REQUESTS.countStream);
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
    for (const request of [SEED_REQUESTS.tcpUdp, SEED_REQUESTS.docker]) {
      const { profile, max_tokens: maxTokens } = request;
      const res = await post("/v1/chat/completions", request);
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

  it("`gate --mode seed` runs suites 1 and 2 against this server and passes (what a GPU run records)", async () => {
    for (const suite of ["1", "2"]) {
      const dir = mkdtempSync(join(tmpdir(), "seed-gate-"));
      const out: string[] = [];
      const options = gateOptionsFrom({
        url: server.url,
        mode: "seed",
        suite,
        expectModel: "tiny",
        expectGpuMode: "cpu",
        expectProfile: "latency_first",
        json: join(dir, "seed.json"),
        markdown: join(dir, "seed.md"),
      });
      const io = { out: (t: string) => out.push(t), err: () => undefined, clock: realClock };
      const code = await runGate(options, io);
      expect(code, out.join("\n")).toBe(EXIT_PASSED);
      const report = JSON.parse(readFileSync(join(dir, "seed.json"), "utf8")) as GateReport;
      expect(report.phases.map((p) => p.name)).toEqual(
        suite === "1"
          ? [
              "health",
              "step 2: health",
              "step 3: non-streaming",
              "step 4: profile switch",
              "step 5: streaming",
              "step 6: stats",
              "performance loop",
            ]
          : ["health", "step 2: health", "step 3: quality", "step 4: latency_first"],
      );
      const notes = report.phases.flatMap((p) => p.notes).join("\n");
      expect(notes).toMatch(/health: status=healthy current_model=tiny .*gpu_mode=cpu/);
      expect(notes).toContain("chosen_engine custom");
      expect(readFileSync(join(dir, "seed.md"), "utf8")).toContain(`GATE PASSED (seed suite ${suite}`);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("simple performance loop: 5 consecutive 'Hello' requests all succeed", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post("/v1/chat/completions", SEED_REQUESTS.hello);
      expect(res.status).toBe(200);
    }
  });
});
