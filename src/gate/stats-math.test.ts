import { describe, expect, it } from "vitest";
import type { RequestResult } from "./request-result.ts";
import {
  decodeTokensPerSecond,
  decodeWindowStreams,
  errorRate,
  goodputQps,
  interTokenGapsMs,
  latencyStats,
  percentile,
  stabilityWindows,
  stableFraction,
  summarize,
  throughputQps,
  tpotMs,
} from "./stats-math.ts";

/** A successful streamed request: sent at `sent`, tokens at the given times, ended at the last. */
function streamed(sent: number, tokenTimes: number[], extra: Partial<RequestResult> = {}): RequestResult {
  const first = tokenTimes[0];
  return {
    ok: true,
    status: 200,
    sentAt: sent,
    ...(first !== undefined ? { firstTokenAt: first } : {}),
    endAt: tokenTimes[tokenTimes.length - 1] ?? sent,
    tokenTimes,
    outputTokens: tokenTimes.length,
    ...extra,
  };
}

function failed(sent: number, end: number): RequestResult {
  return { ok: false, status: 500, error: "boom", sentAt: sent, endAt: end, tokenTimes: [], outputTokens: 0 };
}

describe("percentile (linear interpolation, numpy's default)", () => {
  it("matches hand-computed values", () => {
    // n = 4: h = 3p/100. p50 → h 1.5 → 2 + 0.5*(3-2) = 2.5; p95 → h 2.85 → 3 + 0.85 = 3.85.
    expect(percentile([1, 2, 3, 4], 50)).toBeCloseTo(2.5, 12);
    expect(percentile([1, 2, 3, 4], 95)).toBeCloseTo(3.85, 12);
    expect(percentile([1, 2, 3, 4], 99)).toBeCloseTo(3.97, 12);
    // n = 5, p95 → h 3.8 → 40 + 0.8 * (100 - 40) = 88.
    expect(percentile([10, 20, 30, 40, 100], 95)).toBeCloseTo(88, 12);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([1, 2, 3, 4], 0)).toBe(1);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
  });

  it("has no value for an empty sample and rejects p outside [0, 100]", () => {
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it("summarize sorts numerically, not as strings", () => {
    const s = summarize([100, 9, 20, 1]);
    expect(s.p50).toBeCloseTo(14.5, 12); // sorted 1, 9, 20, 100: h = 1.5
    expect(s.max).toBe(100);
    expect(s.mean).toBeCloseTo(32.5, 12);
    expect(summarize([]).p95).toBeNull();
  });
});

describe("per-request latencies", () => {
  it("TPOT is (E2E − TTFT) / (tokens − 1) and ITL the gaps between token chunks", () => {
    const r = streamed(0, [100, 150, 170, 250]);
    expect(tpotMs(r)).toBeCloseTo(50, 12); // (250 − 100) / 3
    expect(interTokenGapsMs(r)).toEqual([50, 20, 80]);
    expect(tpotMs(streamed(0, [100]))).toBeUndefined();
  });

  it("latencyStats takes TTFT/E2E from successes only and counts failures in the error rate", () => {
    const stats = latencyStats([streamed(0, [100, 200]), streamed(1000, [1300, 1400]), failed(0, 5000)]);
    expect(stats.requests).toBe(3);
    expect(stats.failed).toBe(1);
    expect(stats.errorRate).toBeCloseTo(1 / 3, 12);
    expect(stats.ttftMs.p50).toBeCloseTo(200, 12); // 100 and 300
    expect(stats.e2eMs.max).toBe(400);
  });
});

describe("throughput and goodput", () => {
  it("QPS is successes over first send → last end, the drain included", () => {
    // 4 successes, span 0 → 2000 ms (the failure's end counts in the span too).
    const results = [
      streamed(0, [500]),
      streamed(500, [900]),
      streamed(1000, [1500]),
      streamed(1500, [1800]),
      failed(1600, 2000),
    ];
    expect(throughputQps(results)).toBeCloseTo(2, 12);
    expect(errorRate(results)).toBeCloseTo(0.2, 12);
    expect(throughputQps([failed(0, 10)])).toBeNull();
  });

  it("an open-loop phase's QPS is read over at least its schedule, so it never exceeds what was offered", () => {
    // A 4 s schedule whose 4 arrivals came between 1 s and 2.5 s and finished by 3 s: over the
    // requests alone that would read 4 / 2 s = 2 req/s; over the schedule it is 4 / 4 s = 1.
    const results = [
      streamed(1000, [1500]),
      streamed(1500, [2000]),
      streamed(2000, [2600]),
      streamed(2500, [3000]),
    ];
    expect(throughputQps(results)).toBeCloseTo(2, 12);
    expect(throughputQps(results, { start: 0, end: 4000 })).toBeCloseTo(1, 12);
    // A drain past the schedule's end still counts.
    expect(throughputQps([...results, streamed(3500, [6000])], { start: 0, end: 4000 })).toBeCloseTo(
      5 / 6,
      12,
    );
  });

  it("goodput counts only requests inside the SLO", () => {
    const fast = streamed(0, [100, 110, 120]); // TTFT 100, TPOT 10
    const slowStart = streamed(0, [3000, 3010]); // TTFT 3000
    const slowDecode = streamed(0, [100, 400, 700]); // TPOT 300
    const results = [fast, slowStart, slowDecode, streamed(0, [200, 1000])];
    // span 0 → 3010 ms; 4 successes → 4 / 3.01 req/s; 1 of 4 meets TTFT <= 1000 and TPOT <= 100.
    expect(goodputQps(results, { ttftMs: 1000, tpotMs: 100 })).toBeCloseTo(1 / 3.01, 9);
  });
});

describe("stability windows (grouped by send time)", () => {
  const limits = { windowMs: 1000, maxErrorRate: 0.25, maxP95E2eMs: 500 };

  it("judges each window by the error rate and p95 E2E of the requests sent in it", () => {
    const results = [
      // window 0: two fast successes → stable
      streamed(100, [200]),
      streamed(600, [800]),
      // window 1: one success, one failure → error rate 50% → unstable
      streamed(1100, [1200]),
      failed(1500, 1600),
      // window 2: nothing sent → not judged
      // window 3: slow (E2E 900 ms) → unstable
      streamed(3000, [3900]),
    ];
    const windows = stabilityWindows(results, 0, 4000, limits);
    expect(windows.map((w) => w.stable)).toEqual([true, false, null, false]);
    expect(windows.map((w) => w.requests)).toEqual([2, 2, 0, 1]);
    expect(windows[1]?.errorRate).toBeCloseTo(0.5, 12);
    expect(windows[0]?.p95E2eMs).toBeCloseTo(195, 12); // E2E 100 and 200
    expect(stableFraction(windows)).toBeCloseTo(1 / 3, 12);
  });

  it("puts a request sent after the phase into the last window, and reports no fraction without requests", () => {
    const windows = stabilityWindows([streamed(2500, [2600])], 0, 2000, limits);
    expect(windows).toHaveLength(2);
    expect(windows[1]?.requests).toBe(1);
    expect(stableFraction(stabilityWindows([], 0, 2000, limits))).toBeNull();
  });
});

describe("decode tokens/s (once every stream runs)", () => {
  it("counts only the tokens between the last first token and the last token", () => {
    // A starts at 100 and streams every 10 ms; B's first token comes at 300 (a long prefill).
    const a = streamed(0, [100, 110, 120, 200, 300, 310, 320, 330, 340, 350]);
    const b = streamed(0, [300, 310, 320, 330, 340, 350, 360]);
    // window (300, 360]: A has 5 tokens in it, B 6; 11 tokens over 60 ms
    expect(decodeTokensPerSecond([a, b])).toBeCloseTo(11 / 0.06, 6);
  });

  it("scales chunks that carry several tokens by the request's token count", () => {
    const a = streamed(0, [100, 200, 300], { outputTokens: 30 }); // 10 tokens a chunk
    // window (100, 300]: 2 of 3 chunks = 20 tokens over 200 ms
    expect(decodeTokensPerSecond([a])).toBeCloseTo(100, 6);
  });

  it("says how many streams the window holds on average, as early streams finish inside it", () => {
    const a = streamed(0, [100, 110, 120, 200, 300, 310, 320, 330, 340, 350]);
    const b = streamed(0, [300, 310, 320, 330, 340, 350, 360]);
    // window (300, 360]: A runs to 350 (50 ms of it), B all 60 ms: 110 / 60 streams
    expect(decodeWindowStreams([a, b])).toBeCloseTo(110 / 60, 6);
    // a stream that ended before the window opened does not count, nor does a failed one
    const early = streamed(0, [50, 60, 70]);
    const failed = streamed(0, [300, 360], { ok: false });
    expect(decodeWindowStreams([a, b, early, failed])).toBeCloseTo(110 / 60, 6);
    // streams that all run to the end: every one counts in full
    expect(decodeWindowStreams([b, streamed(0, [300, 330, 360])])).toBeCloseTo(2, 6);
    expect(decodeWindowStreams([])).toBeNull();
    expect(decodeWindowStreams([streamed(0, [100])])).toBeNull();
  });

  it("is null without successful streams or a window", () => {
    expect(decodeTokensPerSecond([])).toBeNull();
    expect(decodeTokensPerSecond([streamed(0, [100])])).toBeNull();
    expect(decodeTokensPerSecond([streamed(0, [100, 200], { ok: false })])).toBeNull();
  });
});
