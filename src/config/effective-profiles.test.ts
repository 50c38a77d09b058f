import { describe, expect, it } from "vitest";
import { defaultConfig } from "./defaults.ts";
import { effectiveProfiles } from "./effective-profiles.ts";
import { loadConfig } from "./load.ts";
import { PROFILE_NAMES, PROFILES } from "./profiles.ts";

const EMBEDDED = { engine: "custom" as const, upstream: [], upstreamParallel: 64 };

function caps(config: { maxBatchSize?: number; parallel: number }): number[] {
  const profiles = effectiveProfiles({ ...EMBEDDED, ...config });
  return PROFILE_NAMES.map((name) => profiles[name].maxBatchSize);
}

describe("effectiveProfiles", () => {
  it("keeps the v4.5.1 caps (32 / 8 / 48) when parallel is large enough and no override is set", () => {
    expect(PROFILE_NAMES).toEqual(["latency_first", "quality_first", "balanced"]);
    expect(caps({ parallel: 64 })).toEqual([32, 8, 48]);
  });

  it("never lets a cap exceed parallel", () => {
    expect(caps({ parallel: 16 })).toEqual([16, 8, 16]);
    expect(caps({ parallel: 16, maxBatchSize: 64 })).toEqual([16, 16, 16]);
  });

  it("replaces every profile's cap with maxBatchSize, up or down, and nothing else", () => {
    expect(caps({ parallel: 64, maxBatchSize: 64 })).toEqual([64, 64, 64]);
    expect(caps({ parallel: 64, maxBatchSize: 4 })).toEqual([4, 4, 4]);
    const latency = effectiveProfiles({ ...EMBEDDED, parallel: 64, maxBatchSize: 64 }).latency_first;
    expect({ ...latency, maxBatchSize: PROFILES.latency_first.maxBatchSize }).toEqual(PROFILES.latency_first);
  });

  it("on upstreams, caps at what the upstreams take together, not at --parallel (an embedded engine's KV cache)", () => {
    const gateway = loadConfig({
      flags: {
        engine: "upstream",
        upstream: ["http://a:1,http://b:2#parallel=8"],
        upstreamParallel: "40",
        maxBatchSize: "64",
      },
      env: {},
    });
    expect(gateway.parallel).toBe(16);
    expect(effectiveProfiles(gateway).latency_first.maxBatchSize).toBe(48);
  });

  it("with replicas, caps at --parallel times the replicas (each replica runs --parallel sequences)", () => {
    // --gpus 0,1,2,3 --parallel 64 runs 4 x 64 sequences: a cap of 64 kept 192 of them idle.
    const fourGpus = loadConfig({
      flags: { gpus: ["0,1,2,3"], parallel: "64", maxBatchSize: "256" },
      env: {},
    });
    expect(effectiveProfiles(fourGpus).latency_first.maxBatchSize).toBe(256);
    const twoEach = loadConfig({
      flags: { gpus: ["0,1"], replicasPerGpu: "2", parallel: "16", maxBatchSize: "1000" },
      env: {},
    });
    expect(effectiveProfiles(twoEach).balanced.maxBatchSize).toBe(64);
    const cpu = loadConfig({ flags: { replicas: "3", parallel: "4" }, env: {} });
    expect(PROFILE_NAMES.map((name) => effectiveProfiles(cpu)[name].maxBatchSize)).toEqual([12, 8, 12]);
  });

  it("flows from a loaded config, and leaves the v4.5.1 table untouched", () => {
    const config = loadConfig({ flags: { parallel: "64", maxBatchSize: "64" }, env: {} });
    expect(effectiveProfiles(config).latency_first.maxBatchSize).toBe(64);
    expect(PROFILES.latency_first.maxBatchSize).toBe(32);
    expect(effectiveProfiles(config)).toBe(effectiveProfiles(config)); // computed once per config
    expect(Object.isFrozen(effectiveProfiles(config).balanced)).toBe(true);
    expect(effectiveProfiles(defaultConfig()).latency_first.maxBatchSize).toBe(16); // default parallel 16
  });
});
