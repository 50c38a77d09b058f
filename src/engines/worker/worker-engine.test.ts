/**
 * The engine worker and its supervision, with real child processes: the engine contract on the
 * tiny model through a worker, then crashes on purpose (SIGKILL mid-stream and before the first
 * token, a frozen worker, a clean close) on the scripted fake engine, which is quick to restart.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.ts";
import { collectRun, describeEngineContract } from "../engine.contract.ts";
import type { GenerationRequest } from "../engine.ts";
import { FAKE_FAILURE_ID_PREFIX } from "../fake/fake-engine.ts";
import { nanWeightsModel } from "../native/tiny-engine-support.ts";
import { RESTART_AFTER_FAILURES_IN_A_ROW, WorkerEngine } from "./worker-engine.ts";

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

  it(`a worker whose requests fail ${RESTART_AFTER_FAILURES_IN_A_ROW} times in a row (engine_error) is restarted`, async () => {
    await ready();
    const restarts = engine.status.restarts;
    const fail = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await expect(
          collectRun(engine, request({ id: `${FAKE_FAILURE_ID_PREFIX}${i}`, maxTokens: 2 })),
        ).rejects.toMatchObject({ code: "engine_error" });
      }
    };
    // A success between failures resets the count: 4 + 4 failures restart nothing.
    await fail(RESTART_AFTER_FAILURES_IN_A_ROW - 1);
    expect((await collectRun(engine, request({ maxTokens: 2 }))).finish.reason).toBe("length");
    await fail(RESTART_AFTER_FAILURES_IN_A_ROW - 1);
    expect(engine.status.restarts).toBe(restarts);
    await fail(1);
    await waitFor(() => engine.status.restarts === restarts + 1);
    expect(engine.status.lastExit?.reason).toMatch(
      new RegExp(`^${RESTART_AFTER_FAILURES_IN_A_ROW} requests failed in a row`),
    );
    await ready();
    expect((await collectRun(engine, request({ maxTokens: 2 }))).finish.reason).toBe("length");
  });

  it("close() stops the worker cleanly and refuses new requests", async () => {
    await ready();
    const pid = engine.status.pid!;
    await engine.close();
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(collectRun(engine, request())).rejects.toMatchObject({ code: "engine_error" });
  });
});

describe("engine worker on broken weights (tiny model with NaN weights)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gptoss-worker-nan-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("a worker whose engine reports non-finite logits (failed health) is restarted, and says why", async () => {
    const engine = await WorkerEngine.start({
      config: loadConfig({
        flags: {
          engine: "custom",
          model: await nanWeightsModel(dir),
          parallel: 1,
          contextSize: 1024,
          threads: 1,
          logLevel: "warn",
        },
        env: {},
      }),
      logger,
      backoffMs: 60_000, // one restart is enough to see: the next would load the same weights
    });
    try {
      await expect(collectRun(engine, request({ promptTokens: PROMPT, maxTokens: 4 }))).rejects.toMatchObject(
        {
          code: "engine_error",
          message: expect.stringContaining("non-finite logits"),
        },
      );
      await waitFor(() => engine.status.restarts === 1);
      expect(engine.status.lastExit?.reason).toMatch(/its engine failed: non-finite logits/);
      expect(engine.health()).toMatchObject({
        status: "loading",
        detail: expect.stringMatching(/non-finite/),
      });
    } finally {
      await engine.close();
    }
  });
});
