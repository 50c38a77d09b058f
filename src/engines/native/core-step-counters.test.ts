/**
 * The native core's step counters on the real addon and the tiny model: the split of a step's time
 * (llama_decode, waiting for the logits, sampling) and the steps that fed no prompt token, counted
 * apart. GPU benchmarks read them from the server log (step-profile.ts) to say where a step's time
 * goes beside llama-batched-bench's decode-only rate, so they must add up.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { NativeCore, NativeCoreStats } from "./native-core.ts";
import type { NativeEngine } from "./native-engine.ts";
import { engineOverRealCore } from "./real-core-for-test.ts";
import { GREEDY, LONG_PROMPT, request } from "./tiny-engine-support.ts";

/** The numeric counters of the core's stats. */
type Counter = {
  [K in keyof NativeCoreStats]-?: NativeCoreStats[K] extends number ? K : never;
}[keyof NativeCoreStats];

let engine: NativeEngine;
let core: NativeCore;

beforeAll(async () => {
  ({ engine, core } = await engineOverRealCore(2));
});
afterAll(async () => {
  await engine?.close();
});

describe("native core: step counters (tiny model, CPU)", () => {
  it("splits each step's time into parts that add up, and counts the steps without prompt tokens apart", async () => {
    const before = core.stats();
    const maxTokens = 12;
    const { tokens } = await collectRun(
      engine,
      request({ promptTokens: LONG_PROMPT, maxTokens, sampling: GREEDY }),
    );
    expect(tokens).toHaveLength(maxTokens);
    // The last step's events can reach JavaScript a moment before that step's counters are updated.
    await vi.waitFor(() => expect(core.stats().steps - before.steps).toBe(maxTokens));
    const after = core.stats();

    const d = (key: Counter): number => after[key] - before[key];
    const steps = d("steps");
    // One step reads the prompt (150 tokens fit one batch) and samples the first token; each further
    // token is a step that feeds only the token before it.
    expect(steps).toBe(maxTokens);
    expect(d("pureDecodeSteps")).toBe(maxTokens - 1);
    expect(d("pureDecodeSequences")).toBe(maxTokens - 1);

    // Every part is time spent, and the parts fit in the steps' wall time.
    for (const key of ["decodeMs", "waitMs", "sampleMs", "stepMs"] as const)
      expect(d(key)).toBeGreaterThan(0);
    expect(d("decodeMs") + d("waitMs") + d("sampleMs")).toBeLessThanOrEqual(d("stepMs") + 1e-6);
    expect(d("pureDecodeLaunchMs") + d("pureDecodeWaitMs") + d("pureDecodeSampleMs")).toBeLessThanOrEqual(
      d("pureDecodeMs") + 1e-6,
    );
    // On a CPU llama_decode runs the forward pass: most of a step.
    expect(d("pureDecodeLaunchMs")).toBeGreaterThan(d("pureDecodeSampleMs"));
    expect(d("pureDecodeMs")).toBeGreaterThan(0);
    // One sequence feeding one token a step, its KV length within one 256-cell pad: after the first
    // such step llama.cpp keeps its graph, and the core says so.
    expect(d("pureDecodeReusedGraphs" as Counter)).toBeGreaterThanOrEqual(maxTokens - 2);
    expect(d("pureDecodeReusedGraphs" as Counter)).toBeLessThanOrEqual(d("pureDecodeSteps"));
  });
});
