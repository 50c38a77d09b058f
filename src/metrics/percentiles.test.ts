import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { percentile, sortedAscending } from "./percentiles.ts";

describe("percentile (linear interpolation, numpy's default)", () => {
  it("is null for an empty sample, never 0", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([], 99)).toBeNull();
  });

  it("returns the only value of a one-element sample at every p", () => {
    expect(percentile([42], 0)).toBe(42);
    expect(percentile([42], 95)).toBe(42);
    expect(percentile([42], 100)).toBe(42);
  });

  it("matches hand-computed values on [1, 2, 3, 4]", () => {
    // h = (n - 1) * p / 100 = 3p/100
    expect(percentile([1, 2, 3, 4], 0)).toBe(1);
    expect(percentile([1, 2, 3, 4], 50)).toBeCloseTo(2.5, 12); // h = 1.5
    expect(percentile([1, 2, 3, 4], 95)).toBeCloseTo(3.85, 12); // h = 2.85
    expect(percentile([1, 2, 3, 4], 99)).toBeCloseTo(3.97, 12); // h = 2.97
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
  });

  it("matches hand-computed values on 1..100", () => {
    const sample = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sample, 50)).toBeCloseTo(50.5, 12); // h = 49.5
    expect(percentile(sample, 95)).toBeCloseTo(95.05, 12); // h = 94.05 → 95 + 0.05
    expect(percentile(sample, 99)).toBeCloseTo(99.01, 12); // h = 98.01
  });

  it("interpolates between unequal neighbours", () => {
    // [15, 20, 35, 40, 50], p40: h = 1.6 → 20 + 0.6 * (35 - 20) = 29
    expect(percentile([15, 20, 35, 40, 50], 40)).toBeCloseTo(29, 12);
  });

  it("rejects p outside [0, 100]", () => {
    expect(() => percentile([1, 2], 101)).toThrow(RangeError);
    expect(() => percentile([1, 2], -1)).toThrow(RangeError);
    expect(() => percentile([1, 2], Number.NaN)).toThrow(RangeError);
  });

  it("stays within the sample's range and never decreases as p grows", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (values, p1, p2) => {
          const sorted = sortedAscending(values);
          const [lo, hi] = p1 <= p2 ? [p1, p2] : [p2, p1];
          const a = percentile(sorted, lo) as number;
          const b = percentile(sorted, hi) as number;
          expect(a).toBeGreaterThanOrEqual(sorted[0] as number);
          expect(b).toBeLessThanOrEqual(sorted[sorted.length - 1] as number);
          expect(b).toBeGreaterThanOrEqual(a - 1e-9);
        },
      ),
    );
  });
});

describe("sortedAscending", () => {
  it("sorts numerically, not as strings", () => {
    // Array#sort without a comparator would give [10, 100, 2, 9].
    expect(sortedAscending([10, 9, 100, 2])).toEqual([2, 9, 10, 100]);
  });

  it("does not modify its input", () => {
    const input = [3, 1, 2];
    sortedAscending(input);
    expect(input).toEqual([3, 1, 2]);
  });
});
