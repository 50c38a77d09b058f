import { describe, expect, it } from "vitest";
import { arrivalOffsets, runClosedLoop, runOpenLoop, seededRandom } from "./arrival-schedule.ts";
import { FakeGateClockForTest } from "./fake-gate-clock-for-test.ts";

describe("arrivalOffsets", () => {
  it("Poisson arrivals hold the rate within 3% over a long schedule, for several seeds", () => {
    for (const seed of [1, 2, 3, 42]) {
      const offsets = arrivalOffsets({ rate: 5, durationMs: 2_000_000, process: "poisson", seed });
      // Expected 10,000 arrivals; the Poisson standard deviation is 100 (1%).
      expect(offsets.length).toBeGreaterThan(9_700);
      expect(offsets.length).toBeLessThan(10_300);
      // Exponential gaps: the standard deviation equals the mean (200 ms), unlike uniform spacing.
      const gaps = offsets.slice(1).map((t, i) => t - (offsets[i] as number));
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
      expect(mean).toBeGreaterThan(194);
      expect(mean).toBeLessThan(206);
      expect(sd / mean).toBeGreaterThan(0.9);
      expect(sd / mean).toBeLessThan(1.1);
    }
  });

  it("uniform arrivals are evenly spaced, inside [0, duration)", () => {
    expect(arrivalOffsets({ rate: 2, durationMs: 2000, process: "uniform", seed: 1 })).toEqual([
      0, 500, 1000, 1500,
    ]);
  });

  it("one seed gives one schedule, another seed another, all ascending and within the duration", () => {
    const a = arrivalOffsets({ rate: 3, durationMs: 10_000, process: "poisson", seed: 7 });
    const b = arrivalOffsets({ rate: 3, durationMs: 10_000, process: "poisson", seed: 7 });
    const c = arrivalOffsets({ rate: 3, durationMs: 10_000, process: "poisson", seed: 8 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(a.every((t) => t >= 0 && t < 10_000)).toBe(true);
  });

  it("rejects a rate that is not positive", () => {
    expect(() => arrivalOffsets({ rate: 0, durationMs: 1000, process: "poisson", seed: 1 })).toThrow(
      RangeError,
    );
  });

  it("seededRandom stays in [0, 1)", () => {
    const random = seededRandom(123);
    for (let i = 0; i < 10_000; i++) {
      const u = random();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });
});

describe("runOpenLoop", () => {
  it("sends at the scheduled times without waiting for earlier responses", async () => {
    const clock = new FakeGateClockForTest();
    const sentAt: number[] = [];
    const release: Array<() => void> = [];
    const run = runOpenLoop(
      [0, 100, 250, 1000],
      (i) => {
        sentAt.push(clock.now());
        // No response comes back until the test releases it, after every send happened.
        return new Promise<number>((resolve) => release.push(() => resolve(i)));
      },
      clock,
    );
    await clock.advance(999);
    expect(sentAt).toEqual([0, 100, 250]);
    await clock.advance(1);
    expect(sentAt).toEqual([0, 100, 250, 1000]);
    for (const r of release) r();
    const done = await run;
    expect(done.results).toEqual([0, 1, 2, 3]);
    expect(done.maxSendLagMs).toBe(0);
  });
});

describe("runClosedLoop", () => {
  it("keeps at most N requests in flight and runs exactly `count`", async () => {
    const clock = new FakeGateClockForTest();
    let inFlight = 0;
    let peak = 0;
    const results = await runClosedLoop(
      3,
      { count: 10 },
      async (i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return i;
      },
      clock,
    );
    expect(peak).toBe(3);
    expect(results.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("stops starting requests once the deadline passed", async () => {
    // A clock test double that each request moves forward by 100 ms, synchronously.
    const steppingClockForTest = {
      t: 0,
      now: () => steppingClockForTest.t,
      sleepUntil: () => Promise.resolve(),
    };
    const starts: number[] = [];
    const results = await runClosedLoop(
      2,
      { untilMs: 300 },
      async (i) => {
        starts.push(steppingClockForTest.now());
        steppingClockForTest.t += 100;
        await Promise.resolve();
        return i;
      },
      steppingClockForTest,
    );
    // Starts at 0, 100 and 200; at 300 the deadline has passed and both workers stop.
    expect(starts).toEqual([0, 100, 200]);
    expect(results).toEqual([0, 1, 2]);
  });
});
