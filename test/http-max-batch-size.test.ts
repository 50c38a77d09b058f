import { describe, expect, it } from "vitest";
import { buildFakeApp } from "./helpers/fake-app.ts";

const messages = [{ role: "user", content: "hi" }];

function chat(app: ReturnType<typeof buildFakeApp>["app"]) {
  return app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ model: "gpt-oss-fake", messages, profile: "latency_first", max_tokens: 8 }),
  });
}

/** Starts 64 latency_first requests and returns the most that ran at once, and their statuses. */
async function run64(fake: ReturnType<typeof buildFakeApp>): Promise<{ peak: number; statuses: number[] }> {
  const scheduler = fake.pool.models[0]!.scheduler;
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, scheduler.snapshot().active)), 2);
  try {
    const responses = await Promise.all(Array.from({ length: 64 }, () => chat(fake.app)));
    return { peak, statuses: responses.map((r) => r.statusCode) };
  } finally {
    clearInterval(watch);
  }
}

describe("--max-batch-size over HTTP (fake engine with 64 sequences)", () => {
  it("runs 64 latency_first requests at once with --parallel 64 --max-batch-size 64", async () => {
    const fake = buildFakeApp({
      config: { parallel: 64, maxBatchSize: 64 },
      maxSequences: 64,
      tokenDelayMs: 20,
    });
    const { peak, statuses } = await run64(fake);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(peak).toBe(64);
    const profiles = (await fake.app.inject("/profiles")).json();
    expect(
      profiles.profiles.map((p: { config: { max_batch_size: number } }) => p.config.max_batch_size),
    ).toEqual([64, 64, 64]);
    const health = (await fake.app.inject("/health")).json();
    expect(health.config.current_profile.max_batch_size).toBe(64);
  });

  it("without it, latency_first stops at its v4.5.1 cap of 32", async () => {
    const fake = buildFakeApp({ config: { parallel: 64 }, maxSequences: 64, tokenDelayMs: 20 });
    const { peak, statuses } = await run64(fake);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(peak).toBe(32);
  });
});
