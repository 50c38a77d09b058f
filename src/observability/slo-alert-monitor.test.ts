import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeClockForTest } from "../metrics/fake-clock-for-test.ts";
import type { SloFigures } from "../metrics/slo-alerts.ts";
import type { AlertPayload } from "./alert-webhook.ts";
import { CapturingStreamForTest } from "./capturing-stream-for-test.ts";
import { SloAlertMonitor } from "./slo-alert-monitor.ts";

function figures(errorRate: number, n = 50): SloFigures {
  return {
    handled: n,
    errorRate,
    ttft: { count: n, p95: 100 },
    e2e: { count: n, p95: 1000 },
    queue: { count: n, p95: 5 },
  };
}

function monitor() {
  const clock = new FakeClockForTest(Date.UTC(2026, 11, 1, 12, 0, 0));
  const logs = new CapturingStreamForTest();
  const gauge: string[] = [];
  const posted: AlertPayload[] = [];
  let current = figures(0);
  const windows: number[] = [];
  const m = new SloAlertMonitor({
    thresholds: { errorRate: 0.01, p95TtftMs: 10_000, p95E2eMs: 30_000, p95QueueMs: 5000 },
    windowSeconds: 300,
    intervalMs: 5000,
    minRequests: 20,
    figures: (seconds) => {
      windows.push(seconds);
      return current;
    },
    logger: pino({}, logs),
    setFiring: (slo, firing) => gauge.push(`${slo}=${firing ? 1 : 0}`),
    notify: (p) => posted.push(p),
    server: { name: "box:8000", url: "http://127.0.0.1:8000" },
    now: () => {
      clock.advance(5000);
      return clock.now();
    },
  });
  return { m, logs, gauge, posted, windows, set: (f: SloFigures) => (current = f) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("SloAlertMonitor", () => {
  it("logs a breach's start and end once each at WARN, sets the gauge and posts both", () => {
    const { m, logs, gauge, posted, windows, set } = monitor();
    expect(gauge).toEqual(["error_rate=0", "p95_ttft=0", "p95_e2e=0", "p95_queue=0"]);
    set(figures(0.25));
    for (let i = 0; i < 6; i += 1) m.evaluate();
    set(figures(0));
    for (let i = 0; i < 6; i += 1) m.evaluate();

    const warnings = logs.lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.msg)).toEqual([
      "SLO breach started: error_rate is 25%, over its 1% (the last 300 s)",
      "SLO breach ended: error_rate is 0% (threshold 1%; peak 25%, 35 s)",
    ]);
    expect(warnings[0]).toMatchObject({ alert: "firing", slo: "error_rate", value: 0.25, threshold: 0.01 });
    expect(gauge.slice(4)).toEqual(["error_rate=1", "error_rate=0"]);
    expect(posted).toEqual([
      {
        status: "firing",
        slo: "error_rate",
        value: 0.25,
        threshold: 0.01,
        since: "2026-12-01T12:00:05.000Z",
        peak: 0.25,
        server: "box:8000",
        url: "http://127.0.0.1:8000",
      },
      {
        status: "resolved",
        slo: "error_rate",
        value: 0,
        threshold: 0.01,
        since: "2026-12-01T12:00:05.000Z",
        ended_at: "2026-12-01T12:00:40.000Z",
        peak: 0.25,
        server: "box:8000",
        url: "http://127.0.0.1:8000",
      },
    ]);
    expect(new Set(windows)).toEqual(new Set([300]));
    expect(m.view().recent).toHaveLength(1);
  });

  it("evaluates on an unref'd timer until close()", () => {
    vi.useFakeTimers();
    const { m, set, posted } = monitor();
    set(figures(0.5));
    m.start();
    vi.advanceTimersByTime(10_000);
    expect(posted.map((p) => p.status)).toEqual(["firing"]);
    m.close();
    set(figures(0));
    vi.advanceTimersByTime(60_000);
    expect(posted.map((p) => p.status)).toEqual(["firing"]); // stopped: no more evaluations
  });
});
