import { describe, expect, it } from "vitest";
import { healthScore, statusForScore } from "./health-score.ts";

// The v4.5.1 SLOs: 1% errors, p95 e2e 30 s, p95 TTFT 10 s.
const SLO = { errorRate: 0.01, p95E2eMs: 30_000, p95TtftMs: 10_000 };
const GOOD = { error_rate: 0, p95_e2e_ms: 1000, p95_ttft_ms: 100 };

describe("healthScore", () => {
  it("is 1.0 and healthy within every SLO", () => {
    expect(healthScore(GOOD, SLO)).toEqual({ score: 1, status: "healthy", breaches: [] });
  });

  it("takes 0.2 for the error rate: 0.8 is still healthy", () => {
    expect(healthScore({ ...GOOD, error_rate: 0.05 }, SLO)).toEqual({
      score: 0.8,
      status: "healthy",
      breaches: ["error_rate"],
    });
  });

  it("takes 0.1 for each latency SLO", () => {
    expect(healthScore({ ...GOOD, p95_e2e_ms: 30_001 }, SLO).score).toBe(0.9);
    expect(healthScore({ ...GOOD, p95_ttft_ms: 10_001 }, SLO).score).toBe(0.9);
    expect(healthScore({ ...GOOD, p95_e2e_ms: 40_000, p95_ttft_ms: 20_000 }, SLO)).toEqual({
      score: 0.8,
      status: "healthy",
      breaches: ["p95_e2e", "p95_ttft"],
    });
  });

  it("scores exactly 0.7, degraded, for errors plus one latency breach (not 0.7000000000000001)", () => {
    const result = healthScore({ ...GOOD, error_rate: 0.3, p95_e2e_ms: 31_000 }, SLO);
    expect(result.score).toBe(0.7);
    expect(result.status).toBe("degraded");
  });

  it("scores 0.6, degraded, when everything is breached", () => {
    expect(healthScore({ error_rate: 1, p95_e2e_ms: 60_000, p95_ttft_ms: 20_000 }, SLO)).toEqual({
      score: 0.6,
      status: "degraded",
      breaches: ["error_rate", "p95_e2e", "p95_ttft"],
    });
  });

  it("treats a value equal to the SLO as within it", () => {
    expect(healthScore({ error_rate: 0.01, p95_e2e_ms: 30_000, p95_ttft_ms: 10_000 }, SLO).score).toBe(1);
  });

  it("treats missing percentiles (no data yet) as no breach", () => {
    expect(healthScore({ error_rate: 0, p95_e2e_ms: null, p95_ttft_ms: null }, SLO).score).toBe(1);
  });

  it("follows configurable SLOs", () => {
    const strict = { errorRate: 0, p95E2eMs: 500, p95TtftMs: 50 };
    expect(healthScore(GOOD, strict).breaches).toEqual(["p95_e2e", "p95_ttft"]);
  });
});

describe("statusForScore", () => {
  it("uses strict thresholds: above 0.7 healthy, above 0.3 degraded", () => {
    expect(statusForScore(1)).toBe("healthy");
    expect(statusForScore(0.71)).toBe("healthy");
    expect(statusForScore(0.7)).toBe("degraded");
    expect(statusForScore(1 - 0.2 - 0.1)).toBe("degraded"); // float noise must not flip it
    expect(statusForScore(0.31)).toBe("degraded");
    expect(statusForScore(0.3)).toBe("unhealthy");
    expect(statusForScore(0)).toBe("unhealthy");
  });
});
