/**
 * Seeded random tensor data, fast enough to write a 61 GB model at disk speed.
 *
 * Big tensors are not generated element by element: a pool of random values is built once per
 * distribution, and each chunk of a tensor is a slice of that pool at a seed-derived offset. The
 * slices are written without copying, so throughput is bounded by the disk, not by JavaScript.
 */
import type { TensorSink } from "./gguf-writer.ts";

/** sfc32: a small, fast 32-bit PRNG with a 128-bit state (PractRand-clean). */
export class Sfc32 {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number, stream = 0) {
    this.#a = 0x9e3779b9;
    this.#b = seed | 0;
    this.#c = stream | 0;
    this.#d = 1;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }
}

/** Mixes several integers into one well-spread 32-bit value (murmur3 finalizer). */
export function hash32(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** IEEE 754 binary16 bits for a float (round to nearest even); Node 20 lacks Math.f16round. */
export function floatToHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1) === 1) ? 1 : 0));
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** A pool of random bytes in units of `unitBytes` (2 for F16, 17 for an MXFP4 block). */
export interface RandomPool {
  readonly bytes: Uint8Array;
  readonly unitBytes: number;
}

/** F16 values uniform in [-limit, limit], drawn from a 4096-level table so building is cheap. */
export function f16Pool(seed: number, stream: number, limit: number, poolBytes: number): RandomPool {
  const table = new Uint16Array(4096);
  for (let i = 0; i < table.length; i++) {
    table[i] = floatToHalfBits(((i + 0.5) / table.length) * 2 * limit - limit);
  }
  const values = new Uint16Array(Math.floor(poolBytes / 2));
  const rng = new Sfc32(seed, stream);
  for (let i = 0; i < values.length; i += 2) {
    const r = rng.nextU32();
    values[i] = table[r & 0xfff] ?? 0;
    values[i + 1] = table[(r >>> 16) & 0xfff] ?? 0;
  }
  return { bytes: new Uint8Array(values.buffer), unitBytes: 2 };
}

/**
 * Q8_0 blocks (ggml block_q8_0: an F16 scale, then 32 int8 values): values uniform in about
 * [-limit, limit], the scale limit / 127 and the int8s uniform in [-127, 127]. For dense matrices stored
 * in 8 bits (make-model --dense-type q8_0).
 */
export function q8Pool(seed: number, stream: number, limit: number, poolBytes: number): RandomPool {
  const blocks = Math.floor(poolBytes / 34);
  const bytes = new Uint8Array(blocks * 34);
  const view = new DataView(bytes.buffer);
  const scale = floatToHalfBits(limit / 127);
  const rng = new Sfc32(seed, stream);
  for (let b = 0; b < blocks; b++) {
    const at = b * 34;
    view.setUint16(at, scale, true);
    for (let k = 0; k < 32; k++) {
      // uniform in -127..127 (never -128, which a real quantiser does not write)
      bytes[at + 2 + k] = ((rng.nextU32() % 255) - 127) & 0xff;
    }
  }
  return { bytes, unitBytes: 34 };
}

/**
 * MXFP4 blocks (ggml block_mxfp4: E8M0 scale byte, then 16 bytes of packed 4-bit values). Scale bytes
 * 119..122 give element magnitudes of at most 6 * 2^-5, so random activations stay finite.
 */
export function mxfp4Pool(seed: number, stream: number, poolBytes: number): RandomPool {
  const blocks = Math.floor(poolBytes / 17);
  const bytes = new Uint8Array(blocks * 17);
  const words = new Uint32Array(4);
  const wordBytes = new Uint8Array(words.buffer);
  const rng = new Sfc32(seed, stream);
  for (let b = 0; b < blocks; b++) {
    const at = b * 17;
    bytes[at] = 119 + (rng.nextU32() & 3);
    for (let k = 0; k < 4; k++) words[k] = rng.nextU32();
    bytes.set(wordBytes, at + 1);
  }
  return { bytes, unitBytes: 17 };
}

const CHUNK_BYTES = 4 << 20;

/**
 * Writes `byteSize` bytes as slices of the pool. Each chunk starts at a unit-aligned offset derived
 * from (seed, tensorKey, chunk index), so tensors differ from each other and from other seeds.
 */
export async function writeFromPool(
  sink: TensorSink,
  pool: RandomPool,
  byteSize: number,
  seed: number,
  tensorKey: number,
): Promise<void> {
  const { bytes, unitBytes } = pool;
  const maxChunk = Math.floor(Math.min(CHUNK_BYTES, bytes.length / 2) / unitBytes) * unitBytes;
  let remaining = byteSize;
  for (let chunk = 0; remaining > 0; chunk++) {
    const len = Math.min(remaining, maxChunk);
    const units = Math.floor((bytes.length - len) / unitBytes) + 1;
    const start = (hash32(seed, tensorKey, chunk) % units) * unitBytes;
    await sink.write(bytes.subarray(start, start + len));
    remaining -= len;
  }
}

/** Small F32 tensors (norms, biases, sinks): generated element by element, `center ± spread`. */
export function f32Values(
  count: number,
  seed: number,
  stream: number,
  center: number,
  spread: number,
): Uint8Array {
  const out = new Float32Array(count);
  const rng = new Sfc32(seed, stream);
  for (let i = 0; i < count; i++) out[i] = center + (rng.nextFloat() * 2 - 1) * spread;
  return new Uint8Array(out.buffer);
}
