import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GGML_TYPE, tensorByteSize, type GgufKv } from "./gguf-format.ts";
import { planGguf, writeGguf, type GgufTensorSpec } from "./gguf-writer.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gguf-writer-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A producer writing `bytes` in chunks of `chunk` (to exercise both buffered and direct writes). */
function bytesTensor(
  name: string,
  shape: number[],
  type: GgufTensorSpec["type"],
  bytes: Uint8Array,
  chunk = 7,
): GgufTensorSpec {
  return {
    name,
    shape,
    type,
    write: async (sink) => {
      for (let at = 0; at < bytes.length; at += chunk) await sink.write(bytes.subarray(at, at + chunk));
    },
  };
}

function pattern(length: number, salt: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + salt) & 0xff);
}

const metadata: GgufKv[] = [
  { key: "general.architecture", value: { type: "string", value: "test-arch" } },
  { key: "test.u8", value: { type: "u8", value: 200 } },
  { key: "test.i8", value: { type: "i8", value: -5 } },
  { key: "test.u16", value: { type: "u16", value: 65000 } },
  { key: "test.i16", value: { type: "i16", value: -30000 } },
  { key: "test.u32", value: { type: "u32", value: 4_000_000_000 } },
  { key: "test.i32", value: { type: "i32", value: -2_000_000_000 } },
  { key: "test.f32", value: { type: "f32", value: 0.5 } },
  { key: "test.f64", value: { type: "f64", value: 1.25 } },
  { key: "test.u64", value: { type: "u64", value: 2n ** 40n } },
  { key: "test.i64", value: { type: "i64", value: -(2n ** 40n) } },
  { key: "test.bool", value: { type: "bool", value: true } },
  { key: "test.string", value: { type: "string", value: "héllo ✓ <|start|>" } },
  { key: "test.strings", value: { type: "array", itemType: "string", value: ["a", "Ġb", "", "ü"] } },
  { key: "test.ints", value: { type: "array", itemType: "i32", value: Int32Array.from([1, -2, 3]) } },
  { key: "test.floats", value: { type: "array", itemType: "f32", value: [0.25, -1.5] } },
];

const f32Data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer);
const f16Data = pattern(tensorByteSize([3, 2], GGML_TYPE.F16), 1);
const mxData = pattern(tensorByteSize([64, 2, 3], GGML_TYPE.MXFP4), 2);
const tensors: GgufTensorSpec[] = [
  bytesTensor("a.f32", [5], GGML_TYPE.F32, f32Data),
  bytesTensor("b.f16", [3, 2], GGML_TYPE.F16, f16Data),
  bytesTensor("c.mxfp4", [64, 2, 3], GGML_TYPE.MXFP4, mxData, 5 << 20),
];

describe("writeGguf", () => {
  it("round-trips metadata and tensor infos through @huggingface/gguf", async () => {
    const path = join(dir, "roundtrip.gguf");
    const plan = await writeGguf(path, { metadata, tensors });
    expect((await stat(path)).size).toBe(plan.totalBytes);

    const parsed = await gguf(path, { allowLocalFile: true });
    const md = parsed.metadata as unknown as Record<string, unknown>;
    expect(md["version"]).toBe(3);
    expect(md["general.architecture"]).toBe("test-arch");
    expect(md["test.u8"]).toBe(200);
    expect(md["test.i8"]).toBe(-5);
    expect(md["test.u16"]).toBe(65000);
    expect(md["test.i16"]).toBe(-30000);
    expect(md["test.u32"]).toBe(4_000_000_000);
    expect(md["test.i32"]).toBe(-2_000_000_000);
    expect(md["test.f32"]).toBe(0.5);
    expect(md["test.f64"]).toBe(1.25);
    expect(md["test.u64"]).toBe(2n ** 40n);
    expect(md["test.i64"]).toBe(-(2n ** 40n));
    expect(md["test.bool"]).toBe(true);
    expect(md["test.string"]).toBe("héllo ✓ <|start|>");
    expect(md["test.strings"]).toEqual(["a", "Ġb", "", "ü"]);
    expect(md["test.ints"]).toEqual([1, -2, 3]);
    expect(md["test.floats"]).toEqual([0.25, -1.5]);

    expect(Number(parsed.tensorDataOffset)).toBe(plan.dataOffset);
    expect(plan.dataOffset % 32).toBe(0);
    expect(
      parsed.tensorInfos.map((t) => ({
        name: t.name,
        shape: t.shape.map(Number),
        type: t.dtype,
        offset: Number(t.offset),
      })),
    ).toEqual([
      { name: "a.f32", shape: [5], type: 0, offset: 0 },
      { name: "b.f16", shape: [3, 2], type: 1, offset: 32 },
      { name: "c.mxfp4", shape: [64, 2, 3], type: 39, offset: 64 },
    ]);
  });

  it("places each tensor's bytes at its aligned offset", async () => {
    const path = join(dir, "data.gguf");
    const plan = await writeGguf(path, { metadata, tensors });
    const file = await readFile(path);
    const at = (i: number): number => plan.dataOffset + (plan.tensors[i]?.offset ?? NaN);
    expect(file.subarray(at(0), at(0) + f32Data.length)).toEqual(Buffer.from(f32Data));
    expect(file.subarray(at(1), at(1) + f16Data.length)).toEqual(Buffer.from(f16Data));
    expect(file.subarray(at(2), at(2) + mxData.length)).toEqual(Buffer.from(mxData));
    // Padding between tensors is zeros.
    expect([...file.subarray(at(0) + f32Data.length, at(1))].every((b) => b === 0)).toBe(true);
  });

  it("is readable by node-llama-cpp's readGgufFileInfo", async () => {
    const path = join(dir, "nlc.gguf");
    await writeGguf(path, { metadata, tensors });
    const info = await readGgufFileInfo(path, { logWarnings: false });
    const md = info.metadata as unknown as {
      general: { architecture: string };
      test: Record<string, unknown>;
    };
    expect(md.general.architecture).toBe("test-arch");
    expect(md.test["strings"]).toEqual(["a", "Ġb", "", "ü"]);
    expect(info.tensorInfo?.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType])).toEqual([
      ["a.f32", [5], 0],
      ["b.f16", [3, 2], 1],
      ["c.mxfp4", [64, 2, 3], 39],
    ]);
  });

  it("honours a non-default alignment and records it in the metadata", async () => {
    const path = join(dir, "align64.gguf");
    const plan = await writeGguf(path, { metadata, tensors, alignment: 64 });
    expect(plan.dataOffset % 64).toBe(0);
    expect(plan.tensors.map((t) => t.offset)).toEqual([0, 64, 128]);
    const parsed = await gguf(path, { allowLocalFile: true });
    expect((parsed.metadata as unknown as Record<string, unknown>)["general.alignment"]).toBe(64);
  });

  it("rejects producers that write too few or too many bytes", async () => {
    const short = bytesTensor("short", [5], GGML_TYPE.F32, f32Data.subarray(0, 16));
    await expect(writeGguf(join(dir, "short.gguf"), { metadata, tensors: [short] })).rejects.toThrow(
      /left 4 of 20 bytes/,
    );
    const long = bytesTensor("long", [4], GGML_TYPE.F32, f32Data);
    await expect(writeGguf(join(dir, "long.gguf"), { metadata, tensors: [long] })).rejects.toThrow(
      /more than 16 bytes/,
    );
  });

  it("rejects rows that are not whole quantization blocks, and duplicate names", () => {
    expect(() => planGguf({ metadata, tensors: [bytesTensor("x", [33], GGML_TYPE.MXFP4, mxData)] })).toThrow(
      /block size 32/,
    );
    expect(() => planGguf({ metadata, tensors: [tensors[0]!, tensors[0]!] })).toThrow(/duplicate/);
  });
});
