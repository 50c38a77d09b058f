/**
 * GGUF v3 constants and the in-memory encoding of everything before the tensor data.
 * Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */

/** GGML tensor types this project writes, with their numeric ids from ggml.h. */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
  BF16: 30,
  MXFP4: 39,
} as const;

export type GgmlTypeId = (typeof GGML_TYPE)[keyof typeof GGML_TYPE];

/** Elements per block and bytes per block (ggml's type_traits / gguf-py GGML_QUANT_SIZES). */
const TYPE_TRAITS: Record<GgmlTypeId, { blockSize: number; typeSize: number }> = {
  [GGML_TYPE.F32]: { blockSize: 1, typeSize: 4 },
  [GGML_TYPE.F16]: { blockSize: 1, typeSize: 2 },
  [GGML_TYPE.Q8_0]: { blockSize: 32, typeSize: 34 },
  [GGML_TYPE.BF16]: { blockSize: 1, typeSize: 2 },
  // MXFP4: one E8M0 scale byte + 32 4-bit values.
  [GGML_TYPE.MXFP4]: { blockSize: 32, typeSize: 17 },
};

/** Bytes a tensor of `shape` (ggml order: ne0 first) takes; ne0 must be a whole number of blocks. */
export function tensorByteSize(shape: readonly number[], type: GgmlTypeId): number {
  const { blockSize, typeSize } = TYPE_TRAITS[type];
  const ne0 = shape[0] ?? 1;
  if (ne0 % blockSize !== 0) {
    throw new Error(`tensor row of ${ne0} elements is not a multiple of the block size ${blockSize}`);
  }
  let rows = 1;
  for (const dim of shape.slice(1)) rows *= dim;
  return (ne0 / blockSize) * typeSize * rows;
}

/** GGUF metadata value type ids (gguf.md "gguf_metadata_value_type"). */
export const GGUF_VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufNumberType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
export type GgufBigType = "u64" | "i64";
export type GgufScalarType = GgufNumberType | GgufBigType | "bool" | "string";

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigType; value: bigint | number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: GgufNumberType; value: ArrayLike<number> }
  | { type: "array"; itemType: GgufBigType; value: ArrayLike<bigint | number> }
  | { type: "array"; itemType: "bool"; value: ArrayLike<boolean> }
  | { type: "array"; itemType: "string"; value: ArrayLike<string> };

export interface GgufKv {
  key: string;
  value: GgufValue;
}

/** Growable little-endian byte buffer; metadata with a 201k-token vocabulary is ~10 MB. */
export class ByteWriter {
  #buf = Buffer.alloc(1 << 16);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  #reserve(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + extra) size *= 2;
    const next = Buffer.alloc(size);
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  u32(v: number): void {
    this.#reserve(4);
    this.#len = this.#buf.writeUInt32LE(v, this.#len);
  }

  u64(v: bigint | number): void {
    this.#reserve(8);
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) {
      // Two u32 halves: BigInt conversion dominates encoding 600k vocabulary strings otherwise.
      this.#buf.writeUInt32LE(v % 0x1_0000_0000, this.#len);
      this.#len = this.#buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), this.#len + 4);
      return;
    }
    this.#len = this.#buf.writeBigUInt64LE(BigInt(v), this.#len);
  }

  scalar(type: GgufScalarType, v: number | bigint | boolean | string): void {
    this.#reserve(8);
    const b = this.#buf;
    const o = this.#len;
    switch (type) {
      case "u8":
        this.#len = b.writeUInt8(v as number, o);
        return;
      case "i8":
        this.#len = b.writeInt8(v as number, o);
        return;
      case "u16":
        this.#len = b.writeUInt16LE(v as number, o);
        return;
      case "i16":
        this.#len = b.writeInt16LE(v as number, o);
        return;
      case "u32":
        this.#len = b.writeUInt32LE(v as number, o);
        return;
      case "i32":
        this.#len = b.writeInt32LE(v as number, o);
        return;
      case "f32":
        this.#len = b.writeFloatLE(v as number, o);
        return;
      case "f64":
        this.#len = b.writeDoubleLE(v as number, o);
        return;
      case "u64":
        this.#len = b.writeBigUInt64LE(BigInt(v), o);
        return;
      case "i64":
        this.#len = b.writeBigInt64LE(BigInt(v), o);
        return;
      case "bool":
        this.#len = b.writeUInt8(v === true ? 1 : 0, o);
        return;
      case "string":
        this.string(v as string);
        return;
    }
  }

  /** gguf_string_t: u64 byte length, then UTF-8 bytes without a terminator. */
  string(s: string): void {
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes.
    this.#reserve(8 + s.length * 3);
    const lenAt = this.#len;
    const written = this.#buf.write(s, lenAt + 8, "utf8");
    this.#buf.writeUInt32LE(written, lenAt);
    this.#buf.writeUInt32LE(0, lenAt + 4);
    this.#len = lenAt + 8 + written;
  }

  zeros(n: number): void {
    this.#reserve(n);
    this.#buf.fill(0, this.#len, this.#len + n);
    this.#len += n;
  }

  bytes(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}

export function writeKv(w: ByteWriter, { key, value }: GgufKv): void {
  w.string(key);
  w.u32(GGUF_VALUE_TYPE[value.type]);
  if (value.type !== "array") {
    w.scalar(value.type, value.value);
    return;
  }
  w.u32(GGUF_VALUE_TYPE[value.itemType]);
  const items = value.value;
  w.u64(items.length);
  for (let i = 0; i < items.length; i++) {
    w.scalar(value.itemType, items[i] as number | bigint | boolean | string);
  }
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
