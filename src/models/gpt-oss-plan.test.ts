import { describe, expect, it } from "vitest";
import { GGML_TYPE } from "./gguf-format.ts";
import { GPT_OSS_HPARAMS, gptOssTensors } from "./gpt-oss-plan.ts";
import { planGptOssGguf } from "./make-model.ts";

const GIB = 1024 ** 3;

describe("gpt-oss tensor plan (no data written)", () => {
  it("20b has the exact official shapes and ~12.8 GiB of data", async () => {
    const plan = await planGptOssGguf("20b");
    expect(plan.tensors).toHaveLength(3 + 24 * 19);
    const byName = new Map(plan.tensors.map((t) => [t.name, t]));
    const shape = (name: string): number[] | undefined => byName.get(name)?.shape.slice();
    const type = (name: string): number | undefined => byName.get(name)?.type;

    expect(shape("token_embd.weight")).toEqual([2880, 201088]);
    expect(shape("output.weight")).toEqual([2880, 201088]);
    expect(shape("blk.0.attn_q.weight")).toEqual([2880, 64 * 64]);
    expect(shape("blk.0.attn_k.weight")).toEqual([2880, 8 * 64]);
    expect(shape("blk.0.attn_v.weight")).toEqual([2880, 8 * 64]);
    expect(shape("blk.0.attn_output.weight")).toEqual([4096, 2880]);
    expect(shape("blk.0.attn_sinks.weight")).toEqual([64]);
    expect(shape("blk.23.ffn_gate_inp.weight")).toEqual([2880, 32]);
    expect(shape("blk.23.ffn_gate_exps.weight")).toEqual([2880, 2880, 32]);
    expect(shape("blk.23.ffn_up_exps.weight")).toEqual([2880, 2880, 32]);
    expect(shape("blk.23.ffn_down_exps.weight")).toEqual([2880, 2880, 32]);
    expect(shape("blk.23.ffn_down_exps.bias")).toEqual([2880, 32]);
    expect(byName.has("blk.24.attn_norm.weight")).toBe(false);

    expect(type("blk.5.ffn_gate_exps.weight")).toBe(GGML_TYPE.MXFP4);
    expect(type("blk.5.ffn_down_exps.weight")).toBe(GGML_TYPE.MXFP4);
    expect(type("token_embd.weight")).toBe(GGML_TYPE.F16);
    expect(type("blk.5.attn_q.weight")).toBe(GGML_TYPE.F16);
    expect(type("blk.5.attn_sinks.weight")).toBe(GGML_TYPE.F32);
    expect(type("blk.5.post_attention_norm.weight")).toBe(GGML_TYPE.F32);
    expect(type("blk.5.ffn_gate_inp.weight")).toBe(GGML_TYPE.F32);

    // One MXFP4 expert tensor: 2880/32 blocks of 17 bytes per row, 2880 rows, 32 experts.
    expect(byName.get("blk.0.ffn_up_exps.weight")?.byteSize).toBe(90 * 17 * 2880 * 32);
    expect(plan.totalBytes / GIB).toBeGreaterThan(12.7);
    expect(plan.totalBytes / GIB).toBeLessThan(12.9);
    // Offsets are aligned and do not overlap.
    for (const [i, t] of plan.tensors.entries()) {
      expect(t.offset % 32).toBe(0);
      const next = plan.tensors[i + 1];
      if (next !== undefined) expect(next.offset).toBeGreaterThanOrEqual(t.offset + t.byteSize);
    }
  });

  it("--dense-type q8_0 stores the attention projections and the output matrix in Q8_0, nothing else", async () => {
    const f16 = await planGptOssGguf("20b");
    const q8 = await planGptOssGguf("20b", 0, "q8_0");
    const byName = new Map(q8.tensors.map((t) => [t.name, t]));
    const dense = ["output.weight", "blk.3.attn_q.weight", "blk.3.attn_k.weight", "blk.3.attn_v.weight"];
    for (const name of [...dense, "blk.3.attn_output.weight"])
      expect(byName.get(name)?.type, name).toBe(GGML_TYPE.Q8_0);
    expect(byName.get("token_embd.weight")?.type).toBe(GGML_TYPE.F16);
    expect(byName.get("blk.3.ffn_up_exps.weight")?.type).toBe(GGML_TYPE.MXFP4);
    // 34 bytes for each 32 values: the output matrix 2880/32 blocks a row, 201,088 rows.
    expect(byName.get("output.weight")?.byteSize).toBe(90 * 34 * 201088);
    // Everything but the Q8_0 tensors is the same list with the same types and shapes.
    expect(q8.tensors.map((t) => [t.name, t.shape])).toEqual(f16.tensors.map((t) => [t.name, t.shape]));
    const changed = q8.tensors.filter((t, i) => t.type !== f16.tensors[i]?.type).map((t) => t.name);
    expect(changed).toHaveLength(1 + 24 * 4);
    // The dense matrices a step reads (2.4 GB of F16) at 34/64 of the bytes: ~1.06 GiB less.
    expect((f16.totalBytes - q8.totalBytes) / GIB).toBeGreaterThan(1.0);
    expect((f16.totalBytes - q8.totalBytes) / GIB).toBeLessThan(1.1);
  });

  it("120b has 36 layers of 128 experts, ~61 GiB", async () => {
    const plan = await planGptOssGguf("120b");
    expect(plan.tensors).toHaveLength(3 + 36 * 19);
    const up = plan.tensors.find((t) => t.name === "blk.35.ffn_up_exps.weight");
    expect(up?.shape).toEqual([2880, 2880, 128]);
    expect(plan.totalBytes / GIB).toBeGreaterThan(60);
    expect(plan.totalBytes / GIB).toBeLessThan(62);
  });

  it("tiny keeps the architecture with small, MXFP4-compatible dims", () => {
    const hp = GPT_OSS_HPARAMS.tiny;
    expect(hp.layers).toBeGreaterThanOrEqual(2); // one sliding-window and one full-attention layer
    expect(hp.embd % 32).toBe(0);
    expect(hp.expertFf % 32).toBe(0);
    expect(hp.vocab).toBe(201088);
    const names = gptOssTensors("tiny", 0).map((t) => t.name);
    expect(names.filter((n) => n.endsWith("attn_sinks.weight"))).toHaveLength(hp.layers);
  });
});
