/**
 * `gpt-oss-server gate` as a user runs it (the real CLI in a child process) against real servers:
 * the tiny model passes; a server made slow on purpose (the fake engine with a per-token delay)
 * fails on a tight TTFT threshold and the report names the failing phases; a closed port exits 2.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

let tiny: ServerProcess;
let slow: ServerProcess;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gate-test-"));
  [tiny, slow] = await Promise.all([
    startServerProcess(["--model", "tiny", "--threads", "1", "--parallel", "4", "--context-size", "2048"]),
    startServerProcess(["--engine", "fake", "--fake-token-delay", "100"]),
  ]);
  await Promise.all([waitReady(tiny.url), waitReady(slow.url)]);
});

afterAll(async () => {
  await Promise.all([tiny?.stop(), slow?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

// Concurrent: the thresholds of the passing run have wide margins, and the suite stays short.
describe.concurrent("gpt-oss-server gate", () => {
  it("passes against the tiny model, with every personal phase and a JSON report", async () => {
    const json = join(dir, "pass.json");
    const run = await runCli([
      "gate",
      "--url",
      tiny.url,
      "--quick",
      "--samples",
      "1",
      "--duration",
      "4",
      "--json",
      json,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("GATE PASSED (personal mode, 5 phases)");
    const report = JSON.parse(await readFile(json, "utf8"));
    expect(report.passed).toBe(true);
    expect(report.serverExtras).toBe(true);
    expect(report.model).toBe("gpt-oss-tiny");
    expect(report.phases.map((p: { name: string; status: string }) => `${p.name}:${p.status}`)).toEqual([
      "health:pass",
      "latency:pass",
      "streaming:pass",
      "cancel:pass",
      "stability:pass",
    ]);
    // The three profiles were each measured, and streaming TTFT is below streaming E2E (not equal to it).
    const latency = report.phases.find((p: { name: string }) => p.name === "latency");
    expect(Object.keys(latency.parts)).toEqual(["latency_first", "quality_first", "balanced"]);
    const streaming = report.phases.find((p: { name: string }) => p.name === "streaming");
    expect(streaming.stats.ttftMs.p50).toBeLessThan(streaming.stats.e2eMs.p50);
    // Progress went to stderr while it ran.
    expect(run.stderr).toContain("[stability] running");
  });

  it("fails with exit 1 and names the failing phases when a slow server misses a TTFT threshold", async () => {
    const json = join(dir, "fail.json");
    const run = await runCli([
      "gate",
      "--endpoint",
      slow.url,
      "--quick",
      "--samples",
      "1",
      "--duration",
      "2",
      "--max-tokens",
      "4",
      "--max-p95-ttft",
      "0.05",
      "--json",
      json,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/GATE FAILED: streaming \(p95 TTFT \d+ ms, needs <= 50 ms\)/);
    const report = JSON.parse(await readFile(json, "utf8"));
    expect(report.passed).toBe(false);
    expect(report.failedPhases).toContain("streaming");
    // The cancel phase does not depend on speed: it still passes on the slow server.
    expect(report.phases.find((p: { name: string }) => p.name === "cancel").status).toBe("pass");
  });

  it("exits 2 when nothing listens at --url", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const run = await runCli(["gate", "--url", `http://127.0.0.1:${port}`, "--quick"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("cannot reach");
  });
});
