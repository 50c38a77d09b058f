import pino from "pino";
import { describe, expect, it } from "vitest";
import { collectRun } from "./engine.contract.ts";
import type { GenerationRequest } from "./engine.ts";
import { FakeEngine } from "./fake/fake-engine.ts";
import { runOn, warmUp, warmUpRequest } from "./warm-up.ts";

const logger = pino({ level: "silent" });
const SYSTEM_A = Array.from({ length: 300 }, (_, i) => 1000 + i);
const SYSTEM_B = Array.from({ length: 200 }, (_, i) => 5000 + i);
const request = (promptTokens: number[]): GenerationRequest => ({
  ...warmUpRequest(promptTokens, 0),
  id: "real",
  maxTokens: 3,
});

describe("warmUp", () => {
  it("puts every prefix in its own slot: the first real request of each reuses it", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [7, 8, 9], maxSequences: 4 });
    const report = await warmUp([SYSTEM_A, SYSTEM_B], runOn(engine), logger, "test");
    expect(report).toMatchObject({ prompts: 2, tokens: 500, cachedTokens: 0, failed: 0 });
    const a = await collectRun(engine, request([...SYSTEM_A, 1, 2, 3]));
    const b = await collectRun(engine, request([...SYSTEM_B, 4, 5]));
    expect(a.finish.usage.cachedTokens).toBe(SYSTEM_A.length);
    expect(b.finish.usage.cachedTokens).toBe(SYSTEM_B.length);
  });

  it("counts a prefix that fails and goes on with the others", async () => {
    const engine = new FakeEngine({ modelId: "m", script: () => [7], maxSequences: 2, contextSize: 250 });
    const report = await warmUp([SYSTEM_A, SYSTEM_B], runOn(engine), logger, "test");
    expect(report).toMatchObject({ prompts: 2, failed: 1, tokens: SYSTEM_B.length });
  });

  it("runs one greedy token per prefix", () => {
    expect(warmUpRequest(SYSTEM_A, 3)).toMatchObject({
      id: "warm-up-3",
      maxTokens: 1,
      stopTokens: [],
      sampling: { temperature: 0 },
    });
  });
});
