import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeClockForTest } from "./fake-clock-for-test.ts";
import type { LoadGauges } from "./dashboard-types.ts";
import { StatsCollector } from "./stats-collector.ts";
import { StatsHistory } from "./stats-history.ts";
import { requestRecordForTest } from "./request-record-for-test.ts";

const record = requestRecordForTest;

function setup(
  gauges: LoadGauges = { models: {}, replicas: {} },
  options: { latencyWindowMs?: number } = {},
) {
  const clock = new FakeClockForTest(1_000_000);
  const stats = new StatsCollector({ now: clock.now });
  const history = new StatsHistory({ stats, gauges: () => gauges, now: clock.now, ...options });
  return { clock, stats, history };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("StatsHistory", () => {
  it("turns the collector's cumulative tallies into rates over each interval", () => {
    const { clock, stats, history } = setup();
    for (let i = 0; i < 6; i += 1) stats.requestFinished(record());
    clock.advance(2_000);
    const first = history.sample()!;
    expect(first.t).toBe(1_002_000);
    expect(first.requests_per_s).toBe(3); // 6 over 2 s
    expect(first.tokens_per_s).toBe(60);
    expect(first.failed_per_s).toBe(0);

    stats.requestFinished(record({ outcome: "failed", errorCode: "engine_error", completionTokens: 0 }));
    stats.requestFinished(record({ outcome: "rejected", errorCode: "invalid_value", completionTokens: 0 }));
    clock.advance(1_000);
    const second = history.sample()!;
    expect(second.requests_per_s).toBe(2);
    expect(second.failed_per_s).toBe(1);
    expect(second.rejected_per_s).toBe(1);
    expect(second.tokens_per_s).toBe(0);

    clock.advance(1_000);
    expect(history.sample()!.requests_per_s).toBe(0);
  });

  it("counts every request even when the collector's window (1,000) turns over within a second", () => {
    const { clock, stats, history } = setup();
    for (let i = 0; i < 5_000; i += 1) stats.requestFinished(record({ completionTokens: 1 }));
    clock.advance(1_000);
    const sample = history.sample()!;
    expect(sample.requests_per_s).toBe(5_000);
    expect(sample.tokens_per_s).toBe(5_000);
  });

  it("splits figures per model and per profile, with each model's queue", () => {
    const { clock, stats, history } = setup({
      models: { "gpt-oss-20b": { queued: 3, active: 2 }, "gpt-oss-120b": { queued: 1, active: 4 } },
      replicas: { "http://a:8000": { model_id: "gpt-oss-20b", status: "ready", running: 2 } },
    });
    stats.requestFinished(record({ profile: "latency_first", ttftMs: 10, e2eMs: 100 }));
    stats.requestFinished(
      record({ profile: "quality_first", model: "gpt-oss-120b", ttftMs: 50, e2eMs: 900 }),
    );
    stats.requestFinished(
      record({ profile: "quality_first", model: "gpt-oss-120b", ttftMs: 70, e2eMs: 700 }),
    );
    clock.advance(1_000);
    const s = history.sample()!;
    expect(s.queue_length).toBe(4);
    expect(s.active_requests).toBe(6);
    expect(s.models["gpt-oss-20b"]).toMatchObject({
      requests_per_s: 1,
      queued: 3,
      active: 2,
      ttft_p50_ms: 10,
    });
    expect(s.models["gpt-oss-120b"]).toMatchObject({
      requests_per_s: 2,
      queued: 1,
      active: 4,
      ttft_p50_ms: 60,
    });
    expect(s.profiles["quality_first"]).toMatchObject({ requests_per_s: 2, e2e_p50_ms: 800 });
    expect(s.profiles["latency_first"]).toMatchObject({ requests_per_s: 1, e2e_p95_ms: 100 });
    expect(s.replicas).toEqual({ "http://a:8000": { model_id: "gpt-oss-20b", status: "ready", running: 2 } });
  });

  it("takes latency percentiles over the last few seconds only; none is null, never 0", () => {
    const { clock, stats, history } = setup(undefined, { latencyWindowMs: 5_000 });
    clock.advance(1_000);
    const empty = history.sample()!;
    expect(empty.ttft_p50_ms).toBeNull();
    expect(empty.e2e_p95_ms).toBeNull();

    stats.requestFinished(record({ ttftMs: 1_000, e2eMs: 9_000 }));
    clock.advance(3_000);
    for (let i = 1; i <= 10; i += 1) stats.requestFinished(record({ ttftMs: i * 10, e2eMs: i * 100 }));
    // A cancelled request's duration is the client's choice: TTFT yes, end-to-end no.
    stats.requestFinished(record({ outcome: "cancelled", ttftMs: 10, e2eMs: 60_000 }));
    clock.advance(1_000);
    const both = history.sample()!;
    expect(both.ttft_p95_ms).toBeGreaterThan(100); // the slow one is still within 5 s
    expect(both.e2e_p95_ms).toBeGreaterThan(1_000);
    expect(both.e2e_p95_ms).toBeLessThan(60_000);

    clock.advance(1_500); // the slow one is now 5.5 s old
    const later = history.sample()!;
    expect(later.ttft_p95_ms).toBe(95); // 10, 10, 20 … 100: the slow one is gone
    expect(later.e2e_p50_ms).toBe(550);
  });

  it("keeps 15 minutes of samples in a ring buffer and returns those after `since`", () => {
    const { clock, history } = setup();
    for (let i = 0; i < 1_000; i += 1) {
      clock.advance(1_000);
      history.sample();
    }
    const all = history.since(0);
    expect(all.length).toBe(901); // 900 s back from now, both ends included
    expect(all[0]!.t).toBe(clock.now() - 900_000);
    expect(all.at(-1)!.t).toBe(clock.now());
    expect(history.since(clock.now() - 3_000).map((s) => s.t)).toEqual([
      clock.now() - 2_000,
      clock.now() - 1_000,
      clock.now(),
    ]);
    expect(history.since(clock.now())).toEqual([]);
  });

  it("skips a sample when no time has passed", () => {
    const { history } = setup();
    expect(history.sample()).toBeUndefined();
    expect(history.since(0)).toEqual([]);
  });

  it("samples on an unref'd timer between start() and stop(), and reports a failing sample", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const stats = new StatsCollector();
    let fail = false;
    const errors: unknown[] = [];
    const history = new StatsHistory({
      stats,
      gauges: () => {
        if (fail) throw new Error("engine health broke");
        return { models: {}, replicas: {} };
      },
      onError: (e) => errors.push(e),
    });
    history.start();
    history.start(); // once only
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3_000);
    expect(history.since(0).length).toBe(3);
    fail = true;
    vi.advanceTimersByTime(1_000);
    expect(errors).toHaveLength(1);
    expect(history.since(0).length).toBe(3);
    history.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(history.since(0).length).toBe(3);
  });
});
