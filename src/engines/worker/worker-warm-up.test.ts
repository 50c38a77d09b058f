/**
 * Warm prompts through an engine worker (the scripted fake engine in a real child process, quick to
 * restart): the worker runs them before it serves, and a restarted worker runs them again before
 * it takes a request, so its empty cache is full again first.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.ts";
import { collectRun } from "../engine.contract.ts";
import type { GenerationRequest } from "../engine.ts";
import { warmUpRequest } from "../warm-up.ts";
import { WorkerEngine } from "./worker-engine.ts";

const SYSTEM = Array.from({ length: 400 }, (_, i) => 1000 + i);
const request = (suffix: number[]): GenerationRequest => ({
  ...warmUpRequest([...SYSTEM, ...suffix], 0),
  id: "real",
  maxTokens: 4,
});

async function waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("engine worker with warm prompts (fake engine in a child process)", () => {
  let engine: WorkerEngine;
  const lines: string[] = [];
  beforeAll(async () => {
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    engine = await WorkerEngine.start({
      config: loadConfig({ flags: { engine: "fake", parallel: 4, logLevel: "warn" }, env: {} }),
      logger,
      backoffMs: 50,
      warmPrompts: [SYSTEM],
    });
  });
  afterAll(() => engine?.close());

  const warmed = (): number => lines.filter((l) => l.includes("prefix cache warmed")).length;

  it("warms the worker before it serves: the first request finds its prefix cached", async () => {
    expect(warmed()).toBe(1);
    const run = await collectRun(engine, request([1, 2, 3]));
    expect(run.finish.usage.cachedTokens).toBe(SYSTEM.length);
  });

  it("warms a restarted worker again before it takes a request", async () => {
    const pid = engine.status.pid!;
    process.kill(pid, "SIGKILL");
    await waitFor(() => engine.status.restarts === 1 && engine.health().status === "ready");
    expect(engine.status.pid).not.toBe(pid);
    expect(warmed()).toBe(2);
    const run = await collectRun(engine, request([4, 5]));
    expect(run.finish.usage.cachedTokens).toBe(SYSTEM.length);
    // A prompt that shares nothing with it finds nothing cached: the cache is the new worker's.
    const other = await collectRun(engine, { ...request([]), promptTokens: [7, 8, 9] });
    expect(other.finish.usage.cachedTokens).toBe(0);
  });
});
