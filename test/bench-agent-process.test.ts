/**
 * `bench --scenario agent` (issue 14's agent replay) against a real server process on the tiny
 * model: a small run (1 session, 3 turns) through the command's own entry, its JSON report read
 * back. Each turn re-sends the session's transcript grown by a tool call and its result, so the
 * prefix cache must serve the previous turn's prompt: cached_tokens grows with the turns.
 *
 * One session: with two, whether a turn finds its own history depends on timing. When both slots are
 * free, the native engine's compact placement (sequence-pool.ts, `compactWithin` 256) may give a
 * turn the lower slot holding the other session's transcript, which shares all but the few dozen
 * tokens of its task: a bounded loss by design (under 256 tokens read again), not a cache miss.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchOptionsFrom } from "../src/gate/bench-cli.ts";
import { runBench } from "../src/gate/bench-command.ts";
import type { AgentReport } from "../src/gate/bench-types.ts";
import { realClock } from "../src/gate/gate-clock.ts";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
const dir = mkdtempSync(path.join(tmpdir(), "bench-agent-"));

beforeAll(async () => {
  server = await startServerProcess(["--model", "tiny", "--parallel", "2", "--context-size", "4096"]);
  await waitReady(server.url);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  expect(await server?.stop()).toBe(0);
});

describe("bench --scenario agent against the tiny model", () => {
  it("reports every turn, and cached_tokens grows with the turns (the prefix cache is reused)", async () => {
    const jsonFile = path.join(dir, "agent.json");
    const out: string[] = [];
    const options = benchOptionsFrom({
      url: server.url,
      scenario: "agent",
      turns: "3",
      sessions: "1",
      toolResultTokens: "64",
      maxTokens: "8",
      json: jsonFile,
    });
    const code = await runBench(options, { out: (t) => out.push(t), err: () => {}, clock: realClock });
    expect(code).toBe(0);
    const report = JSON.parse(readFileSync(jsonFile, "utf8")) as AgentReport;
    const [result] = report.results;
    expect(result?.records).toHaveLength(3);
    expect(result?.records.every((r) => r.ok)).toBe(true);
    for (const session of [0]) {
      const turns = result!.records.filter((r) => r.session === session);
      const cached = turns.map((r) => r.cachedTokens ?? -1);
      const prompt = turns.map((r) => r.promptTokens ?? -1);
      // Each turn's prompt is the previous one plus a tool call and a 64-token result...
      expect(prompt[1]! - prompt[0]!).toBeGreaterThan(64);
      expect(prompt[2]! - prompt[1]!).toBeGreaterThan(64);
      // ...and all of the previous prompt comes from the cache.
      expect(cached[1]).toBeGreaterThanOrEqual(prompt[0]!);
      expect(cached[2]).toBeGreaterThanOrEqual(prompt[1]!);
    }
    expect(out.join("\n")).toMatch(/TTFT p50 at turn 3 /);
  }, 120_000);
});
