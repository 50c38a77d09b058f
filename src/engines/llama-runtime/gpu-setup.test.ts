import { describe, expect, it } from "vitest";
import { effectiveGpuMode } from "./gpu-setup.ts";

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
