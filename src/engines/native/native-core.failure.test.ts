/**
 * The native core failing safely, on the real addon: an exception in a sampler pool task reaches
 * JavaScript as an Error (it used to std::terminate the process), the decode loop catching an
 * exception fails its requests and refuses new ones while the process lives on, and NaN logits (a
 * model whose weights are broken) are reported as such and make the engine's health "failed".
 *
 * Needs the addon (`node scripts/build-native.mjs`); CI always builds it, so a missing addon fails
 * here rather than skipping. scripts/native-sanitize.sh runs this file under ASan and UBSan.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { collectRun } from "../engine.contract.ts";
import { silentEngineLogger } from "../llama-runtime/engine-logger.ts";
import { loadLlama } from "../llama-runtime/gpu-setup.ts";
import { loadedLibllamaPath, type NativeCoreAddon, type NativeSampling } from "./native-core.ts";
import { createNativeEngine } from "./native-engine.ts";
import { engineOverRealCore, requireCore } from "./real-core-for-test.ts";
import { engineOptions, nanWeightsModel, request, TINY_PROMPT } from "./tiny-engine-support.ts";

const ALL_EXCLUDED = -1;
const NON_FINITE = -2;

const sampling = (overrides: Partial<NativeSampling> = {}): NativeSampling => ({
  temperature: 1,
  topP: 1,
  seed: 7,
  presencePenalty: 0,
  frequencyPenalty: 0,
  biasTokens: new Int32Array(0),
  biasValues: new Float32Array(0),
  ...overrides,
});
const none = new Int32Array(0);

/** `size` logits 0, 0.001, 0.002, ... with `value` written at each of `at`. */
function logits(size: number, at: readonly number[] = [], value = Number.NaN): Float32Array {
  const row = Float32Array.from({ length: size }, (_, i) => i * 0.001);
  for (const i of at) row[i] = value;
  return row;
}

describe("native sampler pool: an exception in a task", () => {
  it("reaches the calling thread and JavaScript as an Error, and the pool still runs the next job", () => {
    const core = requireCore();
    // Twice: a pool left with a stale exception or a stuck worker would fail the second round. The
    // message names a worker thread: the exception crossed threads (the addon checks the clean job).
    for (let round = 0; round < 2; round++) {
      expect(() => core.throwInPoolForTest(4)).toThrow(/^thrown by a pool task on worker [1-3]$/);
    }
  });
});

describe("native sampler: non-finite logits", () => {
  const core = (): NativeCoreAddon => requireCore();

  it("an all-NaN row draws nothing, greedy or sampled (NaN reads as banned; the loop then scans)", () => {
    const row = new Float32Array(5000).fill(Number.NaN);
    expect(Array.from(core().sampleForTest(row, sampling(), none, 2))).toEqual([ALL_EXCLUDED, ALL_EXCLUDED]);
    expect(Array.from(core().sampleForTest(row, sampling({ temperature: 0 }), none, 1))).toEqual([
      ALL_EXCLUDED,
    ]);
  });

  it("one NaN among finite logits is reported, not drawn around, on every sampling path", () => {
    const row = logits(5000, [1234]);
    expect(Array.from(core().sampleForTest(row, sampling(), none, 3))).toEqual([
      NON_FINITE,
      NON_FINITE,
      NON_FINITE,
    ]);
    expect(Array.from(core().sampleForTest(row, sampling({ topP: 0.5 }), none, 1))).toEqual([NON_FINITE]);
    // The vocabulary split across 4 threads (the loop's path for steps with few sequences).
    const large = logits(201_088, [150_000]);
    expect(Array.from(core().sampleForTest(large, sampling(), none, 2, 4))).toEqual([NON_FINITE, NON_FINITE]);
  });

  it("+inf is reported as non-finite (its weight would be inf - inf = NaN)", () => {
    const row = logits(5000, [42], Number.POSITIVE_INFINITY);
    expect(Array.from(core().sampleForTest(row, sampling(), none, 1))).toEqual([NON_FINITE]);
    expect(Array.from(core().sampleForTest(row, sampling({ temperature: 0 }), none, 1))).toEqual([
      NON_FINITE,
    ]);
    expect(Array.from(core().sampleForTest(logits(201_088, [7], Infinity), sampling(), none, 1, 4))).toEqual([
      NON_FINITE,
    ]);
  });

  it("a temperature whose inverse overflows is greedy, not a NaN weight a client could cause", () => {
    // 1e-45 is a valid temperature on the wire (0 <= t <= 2) and a float denormal: 1 / t = inf.
    const row = logits(5000);
    expect(Array.from(core().sampleForTest(row, sampling({ temperature: 1e-45 }), none, 3))).toEqual([
      4999, 4999, 4999,
    ]);
    expect(
      Array.from(core().sampleForTest(logits(201_088), sampling({ temperature: 1e-45 }), none, 1, 4)),
    ).toEqual([201_087]);
  });

  it("finite rows still sample (banned tokens are -inf, not non-finite)", () => {
    const row = logits(5000, [4999, 4998], Number.NEGATIVE_INFINITY);
    const [token] = core().sampleForTest(row, sampling({ temperature: 0 }), none, 1);
    expect(token).toBe(4997);
  });
});

describe("native engine on broken weights (tiny model with NaN weights, CPU)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gptoss-nan-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("fails the request with 'non-finite logits' and reports failed health", async () => {
    const engine = await createNativeEngine(
      await engineOptions({ modelPath: await nanWeightsModel(dir), maxSequences: 1 }),
    );
    try {
      expect(engine.health().status).toBe("ready");
      await expect(collectRun(engine, request({ maxTokens: 4 }))).rejects.toMatchObject({
        code: "engine_error",
        message: expect.stringContaining("the model produced non-finite logits (NaN/inf)"),
      });
      expect(engine.health()).toMatchObject({ status: "failed", detail: "non-finite logits" });
    } finally {
      await engine.close();
    }
  });
});

describe("native decode loop: an exception in the loop thread (tiny model, CPU)", () => {
  const FAILURE = "injected by native-core.failure.test.ts";

  it("fails the running and the just-added requests, refuses new ones, and the process lives on", async () => {
    const { engine, core } = await engineOverRealCore();
    try {
      // A request generating (it would run for 1000 tokens)...
      let sawTokens: () => void = () => undefined;
      const firstTokens = new Promise<void>((resolve) => (sawTokens = resolve));
      const running = collectRun(engine, request({ maxTokens: 1000 }), undefined, () => sawTokens());
      await firstTokens;
      // ...and one added right before the loop throws: the loop takes both commands at once and
      // throws before starting it, the case where only the slot's busy flag still knows of it.
      const add = core.add.bind(core);
      core.add = (next) => {
        add(next);
        core.failForTest(FAILURE);
      };
      const added = collectRun(engine, request({ promptTokens: [...TINY_PROMPT, 1000], maxTokens: 5 }));
      for (const run of [running, added]) {
        await expect(run).rejects.toMatchObject({
          code: "engine_error",
          message: expect.stringContaining(`the decode loop failed: ${FAILURE}`),
        });
      }
      expect(core.stats()).toMatchObject({ failed: true, failure: FAILURE, activeSequences: 0 });
      expect(engine.health()).toEqual({
        status: "failed",
        activeSequences: 0,
        detail: `native core failed: ${FAILURE}`,
      });
      core.add = add;
      await expect(collectRun(engine, request({ maxTokens: 2 }))).rejects.toMatchObject({
        code: "engine_error",
        message: expect.stringContaining("the decode loop failed"),
      });
    } finally {
      await engine.close();
    }
  });
});

describe("native core: split modes reach llama.cpp", () => {
  it("refuses an unknown split mode with a TypeError naming it, before loading anything", async () => {
    await loadLlama("cpu", 1, silentEngineLogger);
    const options = {
      libllamaPath: loadedLibllamaPath()!,
      modelPath: (await engineOptions()).modelPath,
      gpuLayers: 0,
      splitMode: "rows" as never,
      sequences: 1,
      contextPerSequence: 256,
      batchSize: 64,
      threads: 1,
      samplerThreads: 1,
      flashAttention: "auto" as const,
    };
    // open() checks its options synchronously: the TypeError is thrown, not a rejected promise.
    expect(() => requireCore().open(options, () => undefined)).toThrow(
      /splitMode must be none, layer or tensor, not rows/,
    );
  });
});

describe("native decode loop: llama_decode refusing a step", () => {
  it("ends that step's requests with an error at once, and the next request runs", async () => {
    const { engine, core } = await engineOverRealCore(2);
    try {
      expect("failNextDecodeForTest" in core).toBe(true);
      // As llama.cpp with no room in its KV cache. Nothing else runs: the finish must still be
      // delivered (it once waited in the outbox for another step, and the request hung).
      core.failNextDecodeForTest?.(1);
      const failed = collectRun(engine, request({ promptTokens: TINY_PROMPT, maxTokens: 4 }));
      await expect(failed).rejects.toThrow(/llama_decode failed with code 1/);
      const next = await collectRun(engine, request({ promptTokens: TINY_PROMPT, maxTokens: 4 }));
      expect(next.tokens).toHaveLength(4);
      await vi.waitFor(() => expect(core.stats().activeSequences).toBe(0));
    } finally {
      await engine.close();
    }
  });
});
