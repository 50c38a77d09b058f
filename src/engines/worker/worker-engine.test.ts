/**
 * The engine worker and its supervision, with real child processes: the engine contract on the
 * tiny model through a worker, then crashes on purpose (SIGKILL mid-stream and before the first
 * token, a frozen worker, a clean close) on the scripted fake engine, which is quick to restart.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.ts";
import { collectRun, describeEngineContract } from "../engine.contract.ts";
import type { GenerationRequest } from "../engine.ts";
import { WorkerEngine } from "./worker-engine.ts";

const logger = pino({ level: "silent" });
const PROMPT = [200_006, 1428, 200_008, 13_225, 11, 1495, 553, 481, 30, 200_007, 200_006, 173_781];

describeEngineContract("native core in an engine worker (tiny model, CPU)", async () => ({
  engine: await WorkerEngine.start({
    config: loadConfig({
      flags: {
        engine: "custom",
        model: "tiny",
        parallel: 4,
        contextSize: 1024,
        threads: 1,
        logLevel: "warn",
      },
      env: {},
    }),
    logger,
  }),
  prompt: PROMPT,
  vocabSize: 201_088,
  stopToken: 200_002,
}));

const request = (overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "worker-test",
  promptTokens: [1, 2, 3],
  stopTokens: [],
  maxTokens: 40,
  sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
  ...overrides,
});

async function waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("engine worker supervision (fake engine in a child process)", () => {
  let engine: WorkerEngine;
  beforeAll(async () => {
    engine = await WorkerEngine.start({
      config: loadConfig({ flags: { engine: "fake", fakeTokenDelayMs: 20, logLevel: "warn" }, env: {} }),
      logger,
      backoffMs: 50,
      heartbeatTimeoutMs: 2_000,
    });
  });
  afterAll(() => engine?.close());

  const kill = (signal: NodeJS.Signals = "SIGKILL"): void => {
    process.kill(engine.status.pid!, signal);
  };
  const ready = () => waitFor(() => engine.health().status === "ready" && engine.status.pid !== undefined);

  it("serves through the worker: the engine's info and tokens come over IPC", async () => {
    expect(engine.info.modelId).toBe("gpt-oss-fake");
    const run = await collectRun(engine, request({ maxTokens: 5 }));
    expect(run.tokens.length).toBeGreaterThan(0);
    expect(run.finish.usage.completionTokens).toBe(run.tokens.length);
  });

  it("a stream that had tokens when its worker died ends with engine_restarted; the worker comes back", async () => {
    const restarts = engine.status.restarts;
    const oldPid = engine.status.pid;
    const run = collectRun(engine, request({ maxTokens: 200 }), undefined, (n) => {
      if (n === 3) kill();
    });
    await expect(run).rejects.toMatchObject({ code: "engine_restarted", status: 503 });
    expect(engine.health()).toMatchObject({
      status: "loading",
      detail: expect.stringMatching(/^restarting/),
    });
    await ready();
    expect(engine.status.restarts).toBe(restarts + 1);
    expect(engine.status.pid).not.toBe(oldPid);
    expect(engine.status.lastExit).toMatchObject({ signal: "SIGKILL", code: null });
    expect((await collectRun(engine, request({ maxTokens: 4 }))).finish.reason).toBe("length");
  });

  it("a request with no token yet when its worker died runs again on the restarted one, billed once", async () => {
    await ready();
    kill("SIGSTOP"); // a stopped worker cannot start the request: no token can come before the kill
    const pending = collectRun(engine, request({ maxTokens: 6 }));
    await new Promise((r) => setTimeout(r, 50));
    kill();
    const run = await pending;
    expect(run.finish.reason).toBe("length");
    expect(run.tokens).toHaveLength(6);
    expect(run.finish.usage.completionTokens).toBe(6);
  });

  it("an abort while the worker restarts ends the stream 'cancelled' at once", async () => {
    await ready();
    kill();
    await waitFor(() => engine.health().status === "loading");
    const abort = new AbortController();
    const pending = collectRun(engine, request(), abort.signal);
    abort.abort();
    expect((await pending).finish.reason).toBe("cancelled");
  });

  it("a frozen worker (no heartbeat) is killed and restarted", async () => {
    await ready();
    const restarts = engine.status.restarts;
    kill("SIGSTOP");
    await waitFor(() => engine.status.restarts === restarts + 1, 10_000);
    expect(engine.status.lastExit?.reason).toMatch(/no heartbeat/);
    await ready();
  });

  it("close() stops the worker cleanly and refuses new requests", async () => {
    await ready();
    const pid = engine.status.pid!;
    await engine.close();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(collectRun(engine, request())).rejects.toMatchObject({ code: "engine_error" });
  });
});
