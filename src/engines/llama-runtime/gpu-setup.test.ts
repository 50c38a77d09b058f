import { describe, expect, it } from "vitest";
import { effectiveGpuMode, isExpectedLoadWarning } from "./gpu-setup.ts";

describe("effectiveGpuMode: what takes effect for the GPUs visible", () => {
  it("no GPU is the CPU whatever was asked", () => {
    for (const asked of ["auto", "single", "pipeline", "tensor", "cpu"] as const) {
      expect(effectiveGpuMode(asked, 0).mode).toBe("cpu");
    }
  });

  it("one GPU runs single; asking to split over one says it cannot", () => {
    expect(effectiveGpuMode("auto", 1)).toEqual({ mode: "single" });
    expect(effectiveGpuMode("tensor", 1)).toMatchObject({
      mode: "single",
      warning: expect.stringMatching(/several GPUs/),
    });
    expect(effectiveGpuMode("pipeline", 1).warning).toMatch(/several GPUs/);
  });

  it("several GPUs split by layers unless tensor was asked; single on several warns", () => {
    expect(effectiveGpuMode("auto", 4)).toEqual({ mode: "pipeline" });
    expect(effectiveGpuMode("pipeline", 2)).toEqual({ mode: "pipeline" });
    expect(effectiveGpuMode("tensor", 2)).toEqual({ mode: "tensor" });
    expect(effectiveGpuMode("single", 2)).toMatchObject({
      mode: "pipeline",
      warning: expect.stringMatching(/2 GPUs/),
    });
  });
});

describe("isExpectedLoadWarning", () => {
  it("quiets the warnings every gpt-oss load prints, and nothing else", () => {
    for (const text of [
      "load: setting token '<|message|>' (200008) attribute to USER_DEFINED (16), old attributes: 8",
      "load: special_eog_ids contains both '<|return|>' and '<|call|>', or '<|calls|>' and '<|flush|>' tokens, removing '<|end|>' token from EOG list",
      "llama_kv_cache_iswa: using full-size SWA cache (ref: https://github.com/ggml-org/llama.cpp/pull/13194#issuecomment-2868343055)",
    ]) {
      expect(isExpectedLoadWarning(text)).toBe(true);
    }
    for (const text of [
      "load: control token 200008 '<|message|>' is not marked as EOG",
      "llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' has wrong shape",
      "ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected",
    ]) {
      expect(isExpectedLoadWarning(text)).toBe(false);
    }
  });
});
