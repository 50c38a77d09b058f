import { describe, expect, it } from "vitest";
import { effectiveProfiles } from "../config/effective-profiles.ts";
import { loadConfig } from "../config/load.ts";
import { harnessForTest, jobForTest, track, flush } from "./scheduler-harness-for-test.ts";

/**
 * The GPU benchmark's case: 64 latency_first streams on a server started with --parallel 64. The
 * jobs carry the profile as the server resolves it (effectiveProfiles of the loaded config).
 */
async function startLatencyFirst(flags: Record<string, string>, count: number) {
  const config = loadConfig({ flags, env: {} });
  const profile = effectiveProfiles(config).latency_first;
  const { clock, engine, scheduler } = harnessForTest({ maxConcurrent: config.parallel, maxQueue: 256 });
  const admitted = Array.from({ length: count }, (_, i) =>
    track(scheduler.admit(jobForTest(`r${i}`, profile), new AbortController().signal)),
  );
  clock.advance(profile.prefillWindowMs); // past the prefill gathering window
  await flush();
  return { engine, scheduler, admitted };
}

describe("Scheduler with the configured profile caps", () => {
  it("runs 64 latency_first requests at once with --max-batch-size 64 --parallel 64", async () => {
    const { engine, scheduler, admitted } = await startLatencyFirst(
      { parallel: "64", maxBatchSize: "64" },
      64,
    );
    expect(admitted.every((t) => t.state === "resolved")).toBe(true);
    expect(engine.started).toHaveLength(64);
    expect(scheduler.snapshot()).toMatchObject({ active: 64, queued: 0 });
  });

  it("without the override, holds latency_first to its v4.5.1 cap of 32 and queues the rest", async () => {
    const { engine, scheduler, admitted } = await startLatencyFirst({ parallel: "64" }, 64);
    expect(admitted.filter((t) => t.state === "resolved")).toHaveLength(32);
    expect(engine.started).toHaveLength(32);
    expect(scheduler.snapshot().perProfile["latency_first"]).toEqual({ active: 32, queued: 32 });
  });

  it("a lower override caps below the v4.5.1 value", async () => {
    const { engine, scheduler } = await startLatencyFirst({ parallel: "64", maxBatchSize: "5" }, 8);
    expect(engine.started).toHaveLength(5);
    expect(scheduler.snapshot()).toMatchObject({ active: 5, queued: 3 });
  });
});
