import { describe, expect, it } from "vitest";
import { parseLengthSpec, benchOptionsFrom } from "./bench-cli.ts";
import { gateOptionsFrom } from "./gate-cli.ts";

describe("gateOptionsFrom", () => {
  it("takes the seed's personal thresholds and a full-length plan by default", () => {
    const o = gateOptionsFrom({ url: "http://x:8000" });
    expect(o.mode).toBe("personal");
    expect(o.thresholds).toEqual({
      minQps: 0.3,
      maxP95TtftMs: 10_000,
      maxP95E2eMs: 30_000,
      maxErrorRate: 0.01,
      minStableWindows: 0.95,
    });
    expect(o).toMatchObject({
      rate: 0.5,
      durationMs: 60_000,
      maxTokens: 128,
      fixedOutput: true,
      arrival: "poisson",
    });
  });

  it("uses production's thresholds and plan, and --quick shortens it", () => {
    const o = gateOptionsFrom({ endpoint: "http://x:8000", mode: "production", quick: true });
    expect(o.url).toBe("http://x:8000");
    expect(o.thresholds.maxP95E2eMs).toBe(20_000);
    expect(o.thresholds.maxErrorRate).toBe(0.005);
    expect(o.thresholds.minQps).toBe(1.8);
    expect(o.thresholds.maxP95TtftMs).toBeUndefined();
    expect(o).toMatchObject({ rate: 2, spikeRate: 4, steps: [1, 2, 4], maxTokens: 16 });
  });

  it("reads thresholds in seconds and fractions, and the --no-fixed-output switch", () => {
    const o = gateOptionsFrom({
      url: "http://x",
      maxP95Ttft: "0.05",
      maxP95E2e: "2",
      maxErrorRate: "0",
      minQps: "1",
      fixedOutput: false,
      steps: "1, 3",
    });
    expect(o.thresholds).toMatchObject({ maxP95TtftMs: 50, maxP95E2eMs: 2000, maxErrorRate: 0, minQps: 1 });
    expect(o.fixedOutput).toBe(false);
    expect(o.steps).toEqual([1, 3]);
  });

  it("rejects a missing URL and bad numbers with the flag's name", () => {
    expect(() => gateOptionsFrom({})).toThrow(/--url/);
    expect(() => gateOptionsFrom({ url: "http://x", rate: "fast" })).toThrow(/--rate/);
    expect(() => gateOptionsFrom({ url: "http://x", maxTokens: "1.5" })).toThrow(/--max-tokens/);
  });
});

describe("bench options", () => {
  it("parses fixed lengths and ranges", () => {
    expect(parseLengthSpec("prompt-tokens", "512")).toEqual({ min: 512, max: 512 });
    expect(parseLengthSpec("prompt-tokens", "128-1024")).toEqual({ min: 128, max: 1024 });
    expect(() => parseLengthSpec("prompt-tokens", "9-3")).toThrow();
    expect(() => parseLengthSpec("prompt-tokens", "many")).toThrow(/--prompt-tokens/);
  });

  it("makes closed-loop levels from --concurrency, open-loop ones from --rate", () => {
    expect(benchOptionsFrom({ url: "http://x", concurrency: "1,8" }).levels).toEqual([
      { kind: "concurrency", value: 1 },
      { kind: "concurrency", value: 8 },
    ]);
    const o = benchOptionsFrom({ url: "http://x", rate: "0.5,2", compare: "http://y", requests: "20" });
    expect(o.levels).toEqual([
      { kind: "rate", value: 0.5 },
      { kind: "rate", value: 2 },
    ]);
    expect(o.compareUrl).toBe("http://y");
    expect(o.requests).toBe(20);
  });
});
