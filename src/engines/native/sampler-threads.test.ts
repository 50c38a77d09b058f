/** The native engine's default sampler threads: one machine's cores shared among its GPU replicas. */
import { describe, expect, it } from "vitest";
import { defaultSamplerThreads } from "./native-engine.ts";

describe("defaultSamplerThreads", () => {
  it("one GPU: cores - 2, at most 16 (the H100 machine's 16 cores give 14)", () => {
    expect(defaultSamplerThreads({ onGpu: true, threads: 8, cores: 16, replicas: 1 })).toBe(14);
    expect(defaultSamplerThreads({ onGpu: true, threads: 8, cores: 128, replicas: 1 })).toBe(16);
    expect(defaultSamplerThreads({ onGpu: true, threads: 1, cores: 2, replicas: 1 })).toBe(1);
  });

  it("replicas on one host share its cores: --gpus 0,1,2,3 on 64 cores gets 15 each, not 16", () => {
    expect(defaultSamplerThreads({ onGpu: true, threads: 32, cores: 64, replicas: 4 })).toBe(15);
    expect(defaultSamplerThreads({ onGpu: true, threads: 16, cores: 32, replicas: 2 })).toBe(15);
    expect(defaultSamplerThreads({ onGpu: true, threads: 8, cores: 16, replicas: 8 })).toBe(1);
  });

  it("on the CPU the model's own threads sample, replicas or not", () => {
    expect(defaultSamplerThreads({ onGpu: false, threads: 3, cores: 16, replicas: 4 })).toBe(3);
  });
});
