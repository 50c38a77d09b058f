import { describe, expect, it } from "vitest";
import { FakeClockForTest } from "./fake-clock-for-test.ts";
import type { RequestRecord } from "./request-record.ts";
import { StatsCollector } from "./stats-collector.ts";
import type { ModelInfo } from "./stats-types.ts";
import { requestRecordForTest } from "./request-record-for-test.ts";

const MODEL_INFO: ModelInfo = {
  current_model: "20b",
  gpu_mode: "pipeline",
  default_profile: "latency_first",
  models: ["gpt-oss-20b"],
  random_weights: true,
};

/** This file's requests report cached and reasoning tokens, which the totals under test add up. */
function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return requestRecordForTest({ cachedTokens: 4, reasoningTokens: 5, ...overrides });
}

describe("StatsCollector", () => {
  it("returns exactly the /stats wire fields", () => {
    const snap = new StatsCollector().snapshot({ modelInfo: MODEL_INFO });
    expect(Object.keys(snap).sort()).toEqual(
      [
        "requests_total",
        "requests_success",
        "requests_failed",
        "requests_cancelled",
        "requests_rejected",
        "active_requests",
        "active_streams",
        "queue_length",
        "qps",
        "error_rate",
        "cancel_rate",
        "p50_ttft_ms",
        "p95_ttft_ms",
        "p99_ttft_ms",
        "p50_e2e_ms",
        "p95_e2e_ms",
        "p99_e2e_ms",
        "p50_queue_ms",
        "p95_queue_ms",
        "p99_queue_ms",
        "engine_usage",
        "model_usage",
        "profile_usage",
        "uptime_seconds",
        "per_profile",
        "tokens",
        "tokens_per_second",
        "errors_by_code",
        "window",
        "model_info",
      ].sort(),
    );
  });

  it("reports null percentiles and zero rates before any request", () => {
    const snap = new StatsCollector().snapshot({ modelInfo: MODEL_INFO });
    for (const key of [
      "p50_ttft_ms",
      "p95_ttft_ms",
      "p99_ttft_ms",
      "p50_e2e_ms",
      "p95_e2e_ms",
      "p99_e2e_ms",
    ]) {
      expect(snap[key as keyof typeof snap]).toBeNull();
    }
    expect(snap.error_rate).toBe(0);
    expect(snap.qps).toBe(0);
    expect(snap.requests_total).toBe(0);
    // null survives JSON (undefined would drop the key)
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it("counts each outcome and keeps rejected requests out of error_rate", () => {
    const stats = new StatsCollector();
    for (let i = 0; i < 3; i += 1) stats.requestFinished(record());
    stats.requestFinished(record({ outcome: "failed", errorCode: "engine_error", status: 500, e2eMs: 50 }));
    stats.requestFinished(record({ outcome: "cancelled", status: 200, e2eMs: 5 }));
    stats.requestFinished(
      record({ outcome: "rejected", errorCode: "invalid_json", status: 400, ttftMs: undefined }),
    );
    stats.requestFinished(
      record({
        outcome: "rejected",
        errorCode: "invalid_json",
        status: 400,
        ttftMs: undefined,
        profile: "balanced",
      }),
    );
    stats.requestFinished(record({ outcome: "failed", status: 503, ttftMs: undefined }));

    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    expect(snap.requests_total).toBe(8);
    expect(snap.requests_success).toBe(3);
    expect(snap.requests_failed).toBe(2);
    expect(snap.requests_cancelled).toBe(1);
    expect(snap.requests_rejected).toBe(2);
    // 2 failed of 6 server-handled (3 success + 2 failed + 1 cancelled); the 2 rejected do not count
    expect(snap.error_rate).toBeCloseTo(2 / 6, 12);
    expect(snap.cancel_rate).toBeCloseTo(1 / 6, 12);
    expect(snap.errors_by_code).toEqual({ engine_error: 1, invalid_json: 2, http_503: 1 });
    // usage maps count accepted requests only; per_profile.requests counts every finished one
    expect(snap.profile_usage).toEqual({ latency_first: 6 });
    expect(snap.engine_usage).toEqual({ custom: 6 });
    expect(snap.model_usage).toEqual({ "gpt-oss-20b": 6 });
    expect(snap.per_profile.latency_first?.requests).toBe(7);
    expect(snap.per_profile.balanced).toEqual({
      requests: 1,
      error_rate: 0,
      p95_ttft_ms: null,
      p95_e2e_ms: null,
    });
  });

  it("tracks requests and streams in flight", () => {
    const stats = new StatsCollector();
    const base = { profile: "balanced", model: "gpt-oss-20b", engine: "custom" };
    stats.requestStarted({ ...base, requestId: "a", stream: true });
    stats.requestStarted({ ...base, requestId: "b", stream: false });
    stats.requestStarted({ ...base, requestId: "a", stream: true }); // duplicate start: ignored
    expect(stats.activeRequests).toBe(2);
    expect(stats.activeStreams).toBe(1);

    stats.requestFinished(record({ requestId: "a", stream: true, outcome: "cancelled" }));
    expect(stats.activeRequests).toBe(1);
    expect(stats.activeStreams).toBe(0);

    // rejected before it was ever started: no underflow
    stats.requestFinished(record({ requestId: "never-started", outcome: "rejected" }));
    const snap = stats.snapshot({ modelInfo: MODEL_INFO, queueLength: 3 });
    expect(snap.active_requests).toBe(1);
    expect(snap.active_streams).toBe(0);
    expect(snap.queue_length).toBe(3);
  });

  it("takes TTFT from every request with a first token and e2e from successes only", () => {
    const stats = new StatsCollector();
    for (const e2eMs of [100, 200, 300, 400]) stats.requestFinished(record({ e2eMs, ttftMs: e2eMs / 10 }));
    // a cancel after the first token: real TTFT, but its 5 ms e2e must not pull the e2e percentiles down
    stats.requestFinished(record({ outcome: "cancelled", ttftMs: 50, e2eMs: 5 }));
    stats.requestFinished(record({ outcome: "rejected", ttftMs: undefined, e2eMs: 1 }));

    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    // e2e [100, 200, 300, 400]: p50 h=1.5 → 250; p95 h=2.85 → 385; p99 h=2.97 → 397
    expect(snap.p50_e2e_ms).toBe(250);
    expect(snap.p95_e2e_ms).toBe(385);
    expect(snap.p99_e2e_ms).toBe(397);
    // ttft [10, 20, 30, 40, 50]: p50 h=2 → 30; p95 h=3.8 → 48
    expect(snap.p50_ttft_ms).toBe(30);
    expect(snap.p95_ttft_ms).toBe(48);
    expect(snap.per_profile.latency_first?.p95_e2e_ms).toBe(385);
  });

  it("computes per-profile error rate and p95 separately", () => {
    const stats = new StatsCollector();
    stats.requestFinished(record({ profile: "quality_first", e2eMs: 9000, ttftMs: 800 }));
    stats.requestFinished(
      record({ profile: "quality_first", outcome: "failed", errorCode: "request_timeout" }),
    );
    stats.requestFinished(record({ profile: "latency_first", e2eMs: 400, ttftMs: 40 }));

    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    const quality = snap.per_profile.quality_first;
    expect(quality?.requests).toBe(2);
    expect(quality?.error_rate).toBe(0.5);
    // e2e from the success only; TTFTs are [100 (the failed one had a first token), 800]:
    // p95 h = 0.95 → 100 + 0.95 * 700 = 765
    expect(quality?.p95_e2e_ms).toBe(9000);
    expect(quality?.p95_ttft_ms).toBeCloseTo(765, 9);
    expect(snap.per_profile.latency_first).toEqual({
      requests: 1,
      error_rate: 0,
      p95_ttft_ms: 40,
      p95_e2e_ms: 400,
    });
  });

  it("computes qps and tokens/s over the window with an injected clock", () => {
    const clock = new FakeClockForTest();
    const stats = new StatsCollector({ now: clock.now });
    for (let i = 0; i < 10; i += 1) {
      clock.advance(500);
      stats.requestFinished(record({ completionTokens: 20 }));
    }
    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    // 10 requests in the 5 s since start; 200 completion tokens
    expect(snap.uptime_seconds).toBe(5);
    expect(snap.qps).toBe(2);
    expect(snap.tokens_per_second).toBe(40);
    expect(snap.window).toEqual({ size: 10, seconds: 5, max_size: 1000, max_seconds: 600 });
  });

  it("ages requests out of the window but never out of the cumulative counters", () => {
    const clock = new FakeClockForTest();
    const stats = new StatsCollector({ now: clock.now, windowSeconds: 60 });
    stats.requestFinished(record({ outcome: "failed", errorCode: "engine_error" }));
    stats.requestFinished(record());
    expect(stats.snapshot({ modelInfo: MODEL_INFO }).error_rate).toBe(0.5);

    clock.advance(61_000);
    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    expect(snap.window.size).toBe(0);
    expect(snap.p95_e2e_ms).toBeNull();
    expect(snap.error_rate).toBe(0); // the server recovers its health once old failures age out
    expect(snap.qps).toBe(0);
    expect(snap.requests_total).toBe(2);
    expect(snap.requests_failed).toBe(1);
    expect(snap.errors_by_code).toEqual({ engine_error: 1 });
  });

  it("takes queue-wait percentiles from the requests that have a queue time", () => {
    const stats = new StatsCollector();
    for (const queueMs of [0, 10, 20, 30]) stats.requestFinished(record({ queueMs }));
    stats.requestFinished(record({ outcome: "cancelled" })); // cancelled in the queue: no queue time
    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    expect(snap.p50_queue_ms).toBe(15);
    expect(snap.p99_queue_ms).toBeCloseTo(29.7, 3);
  });

  it("gives the SLO alerts' figures over a shorter window, with the count behind each", () => {
    const clock = new FakeClockForTest();
    const stats = new StatsCollector({ now: clock.now });
    // Old and bad: outside a 60 s alert window, still inside the 600 s stats window.
    for (let i = 0; i < 4; i += 1) {
      stats.requestFinished(record({ outcome: "failed", errorCode: "engine_error", ttftMs: 50_000 }));
    }
    clock.advance(120_000);
    stats.requestFinished(record({ ttftMs: 100, e2eMs: 1000, queueMs: 5 }));
    stats.requestFinished(record({ ttftMs: 300, e2eMs: 3000, queueMs: 7 }));
    stats.requestFinished(record({ outcome: "failed", errorCode: "engine_error", ttftMs: undefined }));
    stats.requestFinished(record({ outcome: "rejected", status: 400, ttftMs: undefined }));
    const f = stats.sloFigures(60);
    expect(f.handled).toBe(3); // the rejected one is the client's mistake
    expect(f.errorRate).toBeCloseTo(1 / 3, 6);
    expect(f.ttft).toEqual({ count: 2, p95: 290 });
    expect(f.e2e).toEqual({ count: 2, p95: 2900 });
    expect(f.queue).toEqual({ count: 2, p95: 6.9 });
    // The stats window still holds the old failures.
    expect(stats.snapshot({ modelInfo: MODEL_INFO }).error_rate).toBeCloseTo(5 / 7, 3);
    expect(stats.sloFigures(600).handled).toBe(7);
  });

  it("bounds the window by count", () => {
    const stats = new StatsCollector({ windowSize: 3 });
    for (const e2eMs of [9999, 9999, 10, 20, 30]) stats.requestFinished(record({ e2eMs }));
    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    expect(snap.window.size).toBe(3);
    expect(snap.p99_e2e_ms).toBeLessThanOrEqual(30);
    expect(snap.requests_success).toBe(5);
  });

  it("sums token counts cumulatively", () => {
    const stats = new StatsCollector();
    stats.requestFinished(
      record({ promptTokens: 100, cachedTokens: 64, completionTokens: 30, reasoningTokens: 12 }),
    );
    stats.requestFinished(
      record({ promptTokens: 50, cachedTokens: 0, completionTokens: 5, reasoningTokens: 0 }),
    );
    expect(stats.snapshot({ modelInfo: MODEL_INFO }).tokens).toEqual({
      prompt: 150,
      cached_prompt: 64,
      completion: 35,
      reasoning: 12,
    });
  });

  it("counts a response-cache hit as a request but not its tokens (no engine processed them)", () => {
    const stats = new StatsCollector();
    stats.requestFinished(record({ promptTokens: 100, completionTokens: 30, responseCache: "miss" }));
    stats.requestFinished(record({ promptTokens: 100, completionTokens: 30, responseCache: "hit" }));
    const snap = stats.snapshot({ modelInfo: MODEL_INFO });
    expect(snap.requests_success).toBe(2);
    expect(snap.tokens).toMatchObject({ prompt: 100, completion: 30 });
  });

  it("passes model_info through unchanged", () => {
    const snap = new StatsCollector().snapshot({ modelInfo: MODEL_INFO });
    expect(snap.model_info).toEqual(MODEL_INFO);
  });
});
