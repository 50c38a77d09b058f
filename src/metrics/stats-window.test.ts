import { describe, expect, it } from "vitest";
import { FakeClockForTest } from "./fake-clock-for-test.ts";
import { StatsWindow } from "./stats-window.ts";

describe("StatsWindow", () => {
  it("keeps only the last maxSize entries, oldest first", () => {
    const window = new StatsWindow<number>({ maxSize: 3 });
    for (let i = 1; i <= 5; i += 1) window.push(i);
    expect(window.items()).toEqual([3, 4, 5]);
    expect(window.size).toBe(3);
  });

  it("evicts entries older than maxSeconds when read", () => {
    const clock = new FakeClockForTest();
    const window = new StatsWindow<string>({ maxSeconds: 10, now: clock.now });
    window.push("a");
    clock.advance(5_000);
    window.push("b");
    clock.advance(5_000); // a is exactly 10 s old: still inside
    expect(window.items()).toEqual(["a", "b"]);
    clock.advance(1);
    expect(window.items()).toEqual(["b"]);
    clock.advance(5_000);
    expect(window.items()).toEqual([]);
    expect(window.size).toBe(0);
  });

  it("keeps working after time eviction wraps the ring buffer", () => {
    const clock = new FakeClockForTest();
    const window = new StatsWindow<string>({ maxSize: 3, maxSeconds: 10, now: clock.now });
    window.push("a");
    window.push("b");
    clock.advance(6_000);
    window.push("c");
    clock.advance(5_000); // a and b are 11 s old
    expect(window.items()).toEqual(["c"]);
    window.push("d");
    window.push("e");
    expect(window.items()).toEqual(["c", "d", "e"]);
    window.push("f");
    expect(window.items()).toEqual(["d", "e", "f"]);
  });

  it("itemsSince returns the entries pushed after a time, across a wrapped ring", () => {
    const clock = new FakeClockForTest(0);
    const window = new StatsWindow<number>({ maxSize: 4, now: clock.now });
    for (let i = 1; i <= 6; i += 1) {
      clock.advance(1_000);
      window.push(i); // i pushed at i s; 1 and 2 overwritten
    }
    expect(window.itemsSince(4_000)).toEqual([5, 6]);
    expect(window.itemsSince(4_999)).toEqual([5, 6]);
    expect(window.itemsSince(5_000)).toEqual([6]);
    expect(window.itemsSince(6_000)).toEqual([]);
    expect(window.itemsSince(0)).toEqual([3, 4, 5, 6]);
  });

  it("uses the defaults from the contract (1000 entries, 10 minutes)", () => {
    const window = new StatsWindow<number>();
    expect(window.maxSize).toBe(1000);
    expect(window.maxSeconds).toBe(600);
    for (let i = 0; i < 1500; i += 1) window.push(i);
    const items = window.items();
    expect(items).toHaveLength(1000);
    expect(items[0]).toBe(500);
  });

  describe("spanSeconds (the divisor for rates)", () => {
    it("is the time since start while nothing was cut off, at least 1 s", () => {
      const clock = new FakeClockForTest();
      const startedAt = clock.now();
      const window = new StatsWindow<number>({ maxSize: 10, maxSeconds: 60, now: clock.now });
      clock.advance(100);
      window.push(1);
      expect(window.spanSeconds(startedAt)).toBe(1);
      clock.advance(4_900);
      expect(window.spanSeconds(startedAt)).toBe(5);
    });

    it("is capped at maxSeconds", () => {
      const clock = new FakeClockForTest();
      const startedAt = clock.now();
      const window = new StatsWindow<number>({ maxSize: 10, maxSeconds: 60, now: clock.now });
      clock.advance(3_600_000);
      expect(window.spanSeconds(startedAt)).toBe(60);
    });

    it("runs from the oldest entry to now once the count limit is reached", () => {
      const clock = new FakeClockForTest();
      const startedAt = clock.now();
      const window = new StatsWindow<number>({ maxSize: 2, maxSeconds: 60, now: clock.now });
      clock.advance(10_000);
      window.push(1);
      clock.advance(2_000);
      window.push(2);
      clock.advance(2_000);
      window.push(3); // drops 1; the oldest kept was pushed 2 s ago
      expect(window.spanSeconds(startedAt)).toBe(2);
    });
  });

  it("rejects limits that cannot hold anything", () => {
    expect(() => new StatsWindow({ maxSize: 0 })).toThrow(RangeError);
    expect(() => new StatsWindow({ maxSize: 1.5 })).toThrow(RangeError);
    expect(() => new StatsWindow({ maxSeconds: 0 })).toThrow(RangeError);
  });
});
