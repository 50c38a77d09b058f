import { describe, expect, it } from "vitest";
import { FakeClockForTest } from "./fake-clock-for-test.ts";
import { SloAlertEvaluator, type SloFigures } from "./slo-alerts.ts";

const THRESHOLDS = { errorRate: 0.01, p95TtftMs: 10_000, p95E2eMs: 30_000, p95QueueMs: 5000 };

/** Figures of a healthy server with `n` requests behind each. */
function figures(overrides: Partial<SloFigures> = {}, n = 100): SloFigures {
  return {
    handled: n,
    errorRate: 0,
    ttft: { count: n, p95: 200 },
    e2e: { count: n, p95: 2000 },
    queue: { count: n, p95: 10 },
    ...overrides,
  };
}

const slowTtft = (p95: number, n = 100): SloFigures => figures({ ttft: { count: n, p95 } }, n);

function evaluator(): {
  alerts: SloAlertEvaluator;
  clock: FakeClockForTest;
  tick: (f: SloFigures) => ReturnType<SloAlertEvaluator["evaluate"]>;
} {
  const clock = new FakeClockForTest(Date.UTC(2026, 11, 1, 12, 0, 0));
  const alerts = new SloAlertEvaluator({ thresholds: THRESHOLDS, minRequests: 20 });
  return {
    alerts,
    clock,
    tick: (f) => {
      clock.advance(5000);
      return alerts.evaluate(f, clock.now());
    },
  };
}

describe("SloAlertEvaluator", () => {
  it("fires once, after two evaluations over the threshold, dated from the breach's first", () => {
    const { alerts, tick } = evaluator();
    expect(tick(figures())).toEqual([]);
    expect(tick(slowTtft(12_000))).toEqual([]); // pending
    expect(alerts.view().active).toEqual([]);
    const [fired, ...others] = tick(slowTtft(15_000));
    expect(others).toEqual([]);
    expect(fired).toEqual({
      status: "firing",
      slo: "p95_ttft",
      value: 15_000,
      threshold: 10_000,
      sinceMs: Date.UTC(2026, 11, 1, 12, 0, 10),
      peak: 15_000,
    });
    expect(tick(slowTtft(14_000))).toEqual([]); // still firing: not announced again
    expect(alerts.firing("p95_ttft")).toBe(true);
    expect(alerts.view()).toEqual({
      active: [{ name: "p95_ttft", since: "2026-12-01T12:00:10.000Z", value: 14_000, threshold: 10_000 }],
      recent: [],
    });
  });

  it("does not fire on a value flapping around its threshold", () => {
    const { alerts, tick } = evaluator();
    for (let i = 0; i < 10; i += 1) expect(tick(slowTtft(i % 2 === 0 ? 11_000 : 9000))).toEqual([]);
    expect(alerts.view().active).toEqual([]);
  });

  it("judges nothing on fewer requests than the minimum", () => {
    const { alerts, tick } = evaluator();
    const fewFailing = figures({ handled: 19, errorRate: 1, ttft: { count: 19, p95: 60_000 } }, 19);
    for (let i = 0; i < 5; i += 1) expect(tick(fewFailing)).toEqual([]);
    expect(alerts.view().active).toEqual([]);
    const [fired] = tick(figures({ handled: 20, errorRate: 0.05 })).concat(
      tick(figures({ handled: 20, errorRate: 0.05 })),
    );
    expect(fired).toMatchObject({ status: "firing", slo: "error_rate", value: 0.05, threshold: 0.01 });
  });

  it("resolves after two evaluations at or below 90% of the threshold; between, it keeps firing", () => {
    const { alerts, tick } = evaluator();
    tick(figures({ queue: { count: 50, p95: 8000 } }));
    tick(figures({ queue: { count: 50, p95: 20_000 } })); // fires, peak so far 20 s
    expect(alerts.firing("p95_queue")).toBe(true);
    // 4.8 s is under the 5 s threshold but above 4.5 s: the hysteresis band, still firing.
    for (let i = 0; i < 4; i += 1) expect(tick(figures({ queue: { count: 50, p95: 4800 } }))).toEqual([]);
    expect(tick(figures({ queue: { count: 50, p95: 4000 } }))).toEqual([]); // one clear evaluation
    expect(tick(figures({ queue: { count: 50, p95: 6000 } }))).toEqual([]); // over again: count restarts
    expect(tick(figures({ queue: { count: 50, p95: 100 } }))).toEqual([]);
    const [resolved] = tick(figures({ queue: { count: 50, p95: 50 } }));
    expect(resolved).toEqual({
      status: "resolved",
      slo: "p95_queue",
      value: 50,
      threshold: 5000,
      sinceMs: Date.UTC(2026, 11, 1, 12, 0, 5),
      endedMs: Date.UTC(2026, 11, 1, 12, 0, 50),
      peak: 20_000,
    });
    expect(alerts.view()).toEqual({
      active: [],
      recent: [
        {
          name: "p95_queue",
          started_at: "2026-12-01T12:00:05.000Z",
          ended_at: "2026-12-01T12:00:50.000Z",
          peak: 20_000,
        },
      ],
    });
  });

  it("resolves when the slow requests age out and too few are left to judge (traffic stopped)", () => {
    const { tick } = evaluator();
    tick(figures({ e2e: { count: 40, p95: 45_000 } }));
    tick(figures({ e2e: { count: 40, p95: 45_000 } }));
    const idle = figures(
      {
        handled: 0,
        ttft: { count: 0, p95: null },
        e2e: { count: 0, p95: null },
        queue: { count: 0, p95: null },
      },
      0,
    );
    expect(tick(idle)).toEqual([]);
    const [resolved] = tick(idle);
    expect(resolved).toMatchObject({ status: "resolved", slo: "p95_e2e", value: null, peak: 45_000 });
  });

  it("keeps SLOs apart, and the last 20 resolved alerts, newest first", () => {
    const { alerts, tick } = evaluator();
    const bad = figures({ errorRate: 0.5, ttft: { count: 100, p95: 20_000 } });
    expect(tick(bad)).toEqual([]);
    expect(tick(bad).map((t) => t.slo)).toEqual(["error_rate", "p95_ttft"]);
    expect(alerts.view().active.map((a) => a.name)).toEqual(["error_rate", "p95_ttft"]);
    tick(figures());
    expect(tick(figures()).map((t) => `${t.slo} ${t.status}`)).toEqual([
      "error_rate resolved",
      "p95_ttft resolved",
    ]);
    for (let i = 0; i < 12; i += 1) {
      tick(bad);
      tick(bad);
      tick(figures());
      tick(figures());
    }
    const recent = alerts.view().recent;
    expect(recent).toHaveLength(20);
    expect(recent[0]!.ended_at > recent[19]!.ended_at).toBe(true);
  });
});
