import { describe, expect, it } from "vitest";
import {
  Sfc32,
  f16Pool,
  floatToHalfBits,
  hash32,
  mxfp4Pool,
  q8Pool,
  writeFromPool,
} from "./random-weights.ts";

/** Collects what a producer writes, standing in for the GGUF writer's sink. */
class CollectingSinkForTest {
  readonly chunks: Uint8Array[] = [];
  write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk.slice());
    return Promise.resolve();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

describe("floatToHalfBits", () => {
  it("matches known binary16 encodings", () => {
    expect(floatToHalfBits(0)).toBe(0x0000);
    expect(floatToHalfBits(1)).toBe(0x3c00);
    expect(floatToHalfBits(-2)).toBe(0xc000);
    expect(floatToHalfBits(0.5)).toBe(0x3800);
    expect(floatToHalfBits(65504)).toBe(0x7bff);
    expect(floatToHalfBits(1e6)).toBe(0x7c00);
    expect(floatToHalfBits(2 ** -24)).toBe(0x0001);
    expect(floatToHalfBits(Number.NaN) & 0x7e00).toBe(0x7e00);
  });

  it("rounds to the nearest representable value", () => {
    for (const x of [0.1, -0.0186, 0.0322, 3.14159, 1e-5, -7.5e-6]) {
      const back = halfToFloat(floatToHalfBits(x));
      expect(Math.abs(back - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
    }
  });
});

describe("seeded generators", () => {
  it("Sfc32 and hash32 are deterministic and seed-sensitive", () => {
    const a = new Sfc32(1);
    const b = new Sfc32(1);
    const c = new Sfc32(2);
    const seqA = [a.nextU32(), a.nextU32(), a.nextU32()];
    expect([b.nextU32(), b.nextU32(), b.nextU32()]).toEqual(seqA);
    expect([c.nextU32(), c.nextU32(), c.nextU32()]).not.toEqual(seqA);
    expect(hash32(1, 2, 3)).toBe(hash32(1, 2, 3));
    expect(hash32(1, 2, 3)).not.toBe(hash32(1, 2, 4));
  });

  it("f16 pools hold finite values within the limit", () => {
    const pool = f16Pool(7, 64, 0.2, 1 << 16);
    const halves = new Uint16Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.length / 2);
    let sumSq = 0;
    let maxAbs = 0;
    for (const h of halves) {
      const v = halfToFloat(h);
      maxAbs = Math.max(maxAbs, Math.abs(v));
      sumSq += v * v;
    }
    expect(maxAbs).toBeLessThanOrEqual(0.2);
    // Uniform on [-0.2, 0.2] has RMS 0.2/sqrt(3).
    expect(Math.sqrt(sumSq / halves.length)).toBeCloseTo(0.2 / Math.sqrt(3), 2);
  });

  it("mxfp4 pools use scale bytes 119..122 in 17-byte blocks", () => {
    const pool = mxfp4Pool(7, 1, 17 * 1000);
    expect(pool.bytes.length).toBe(17 * 1000);
    const scales = new Set<number>();
    for (let b = 0; b < 1000; b++) scales.add(pool.bytes[b * 17] ?? -1);
    expect([...scales].sort()).toEqual([119, 120, 121, 122]);
  });

  it("q8_0 pools hold 34-byte blocks: scale limit/127, int8s in [-127, 127] spread over the range", () => {
    const pool = q8Pool(7, 64, 0.2, 34 * 2000);
    expect(pool.unitBytes).toBe(34);
    expect(pool.bytes.length).toBe(34 * 2000);
    const view = new DataView(pool.bytes.buffer, pool.bytes.byteOffset);
    const values = new Int8Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.length);
    let min = 0;
    let max = 0;
    let sumSq = 0;
    for (let b = 0; b < 2000; b++) {
      expect(halfToFloat(view.getUint16(b * 34, true))).toBeCloseTo(0.2 / 127, 5);
      for (let i = 0; i < 32; i++) {
        const q = values[b * 34 + 2 + i] ?? 0;
        min = Math.min(min, q);
        max = Math.max(max, q);
        sumSq += q * q;
      }
    }
    expect(min).toBe(-127);
    expect(max).toBe(127);
    // Uniform on [-127, 127]: RMS ~127/sqrt(3), so the values' RMS is ~0.2/sqrt(3), as F16's pool.
    expect(Math.sqrt(sumSq / (2000 * 32))).toBeCloseTo(127 / Math.sqrt(3), -1);
    expect(q8Pool(8, 64, 0.2, 34 * 10).bytes).not.toEqual(q8Pool(7, 64, 0.2, 34 * 10).bytes);
  });

  it("writeFromPool writes exactly the size, unit-aligned, and depends on seed and tensor key", async () => {
    const pool = mxfp4Pool(3, 1, 17 * 4096);
    const run = async (seed: number, key: number): Promise<Uint8Array> => {
      const sink = new CollectingSinkForTest();
      await writeFromPool(sink, pool, 17 * 10_000, seed, key);
      return sink.bytes();
    };
    const first = await run(1, 5);
    expect(first.length).toBe(17 * 10_000);
    // Every block still starts with a scale byte: chunks are cut at block boundaries.
    let minScale = 255;
    for (let b = 0; b < 10_000; b++) minScale = Math.min(minScale, first[b * 17] ?? 0);
    expect(minScale).toBeGreaterThanOrEqual(119);
    // Buffer.equals: vitest's deep equality walks typed arrays element by element.
    const same = (x: Uint8Array): boolean => Buffer.from(x).equals(first);
    expect(same(await run(1, 5))).toBe(true);
    expect(same(await run(2, 5))).toBe(false);
    expect(same(await run(1, 6))).toBe(false);
  });
});
