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
