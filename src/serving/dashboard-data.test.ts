import { describe, expect, it } from "vitest";
import { cacheFigures, healthFigures } from "./dashboard-data.ts";

describe("dashboard data from /health's body", () => {
  it("passes /health's alerts on when it has them, and nothing when it does not", () => {
    const alerts = {
      active: [{ name: "p95_ttft", since: "2026-01-01T00:00:00Z", value: 12_000, threshold: 10_000 }],
      recent: [],
    };
    expect(healthFigures({ status: "degraded", score: 0.6, breaches: ["p95_ttft_ms"], alerts })).toEqual({
      status: "degraded",
      score: 0.6,
      breaches: ["p95_ttft_ms"],
      alerts,
    });
    expect(healthFigures({ status: "healthy", score: 1, breaches: [] })).toEqual({
      status: "healthy",
      score: 1,
      breaches: [],
    });
    expect(healthFigures(undefined)).toEqual({ status: "unknown", score: 0, breaches: [] });
  });

  it("reads /stats.cache into a hit rate, and null (shown as off) when absent or malformed", () => {
    expect(cacheFigures({ enabled: true, hits: 3, misses: 1, entries: 7, bytes: 4096 })).toEqual({
      enabled: true,
      hits: 3,
      misses: 1,
      entries: 7,
      bytes: 4096,
      hit_rate: 0.75,
    });
    expect(cacheFigures({ enabled: true, hits: 0, misses: 0 })).toMatchObject({
      hit_rate: null,
      entries: null,
    });
    expect(cacheFigures({ enabled: false, hits: 0, misses: 0, entries: 0, bytes: 0 })).toMatchObject({
      enabled: false,
    });
    expect(cacheFigures(undefined)).toBeNull();
    expect(cacheFigures({ hits: 1 })).toBeNull();
  });
});
