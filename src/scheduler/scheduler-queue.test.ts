import { describe, expect, it } from "vitest";
import { isServerError } from "../errors/server-error.ts";
import { harnessForTest, jobForTest, track, flush, admitNow } from "./scheduler-harness-for-test.ts";

const signal = (): AbortSignal => new AbortController().signal;

describe("Scheduler admission and order", () => {
  it("never runs more than maxConcurrent jobs and starts the next when one ends", async () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 2 });
    const a = track(scheduler.admit(jobForTest("a"), signal()));
    const b = track(scheduler.admit(jobForTest("b"), signal()));
    const c = track(scheduler.admit(jobForTest("c"), signal()));
    await flush();
    expect([a.state, b.state, c.state]).toEqual(["resolved", "resolved", "pending"]);
    expect(engine.started).toEqual(["a", "b"]);
    expect(scheduler.snapshot()).toMatchObject({ active: 2, queued: 1 });

    engine.runOf("a").finish();
    await a.value?.next(); // the finish event
    expect(engine.started).toEqual(["a", "b", "c"]);
    await flush();
    expect(c.state).toBe("resolved");
    expect(scheduler.snapshot()).toMatchObject({ active: 2, queued: 0 });
  });

  it("serves lower priority values first", async () => {
    const { engine, scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("busy"));
    track(scheduler.admit(jobForTest("p2", { priority: 2 }), signal()));
    track(scheduler.admit(jobForTest("p1", { priority: 1 }), signal()));
    track(scheduler.admit(jobForTest("p0", { priority: 0 }), signal()));
    for (const id of ["busy", "p0", "p1"]) scheduler.cancel(id);
    expect(engine.started).toEqual(["busy", "p0", "p1", "p2"]);
  });

  it("is first come, first served within a priority", async () => {
    const { engine, scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("busy"));
    for (const id of ["q1", "q2", "q3"]) track(scheduler.admit(jobForTest(id, { priority: 1 }), signal()));
    for (const id of ["busy", "q1", "q2"]) scheduler.cancel(id);
    expect(engine.started).toEqual(["busy", "q1", "q2", "q3"]);
  });

  it("ages a waiting job so that it overtakes newer higher-priority ones", async () => {
    const { clock, engine, scheduler } = harnessForTest({ agingMs: 1000 });
    await admitNow(scheduler, jobForTest("busy"));
    track(scheduler.admit(jobForTest("old-low", { priority: 2 }), signal()));
    clock.advance(2000); // 2 levels of aging: effective priority 0, and older than the next one
    track(scheduler.admit(jobForTest("new-high", { priority: 0 }), signal()));
    scheduler.cancel("busy");
    expect(engine.started).toEqual(["busy", "old-low"]);
  });

  it("does not age a job before agingMs has passed", async () => {
    const { clock, engine, scheduler } = harnessForTest({ agingMs: 1000 });
    await admitNow(scheduler, jobForTest("busy"));
    track(scheduler.admit(jobForTest("old-low", { priority: 2 }), signal()));
    clock.advance(1999); // one level only: effective priority 1
    track(scheduler.admit(jobForTest("new-high", { priority: 0 }), signal()));
    scheduler.cancel("busy");
    expect(engine.started).toEqual(["busy", "new-high"]);
  });

  it("caps each profile at its maxBatchSize while other profiles pass", () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 4 });
    const capped = { name: "quality_first", maxBatchSize: 1, priority: 0 } as const;
    track(scheduler.admit(jobForTest("q1", capped), signal()));
    track(scheduler.admit(jobForTest("q2", capped), signal()));
    track(scheduler.admit(jobForTest("l1", { priority: 1 }), signal()));
    expect(engine.started).toEqual(["q1", "l1"]);
    expect(scheduler.snapshot().perProfile["quality_first"]).toEqual({ active: 1, queued: 1 });
    scheduler.cancel("q1");
    expect(engine.started).toEqual(["q1", "l1", "q2"]);
  });

  it("refuses with 429 and Retry-After when the queue is full, without touching the engine", async () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 1, maxQueue: 1 });
    await admitNow(scheduler, jobForTest("a"));
    track(scheduler.admit(jobForTest("b"), signal()));
    const error: unknown = await scheduler.admit(jobForTest("c"), signal()).catch((e: unknown) => e);
    expect(isServerError(error) && error.code).toBe("rate_limit_exceeded");
    expect(isServerError(error) && error.status).toBe(429);
    const retryAfter = isServerError(error) ? Number(error.headers["Retry-After"]) : NaN;
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    expect(scheduler.has("c")).toBe(false);
    expect(engine.started).toEqual(["a"]);
    expect(scheduler.snapshot()).toMatchObject({ active: 1, queued: 1 });
  });

  it("times out in the queue with 504 and never starts the job", async () => {
    const { clock, engine, scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("a", { timeoutMs: 60_000 }));
    const b = track(scheduler.admit(jobForTest("b", { timeoutMs: 1000 }), signal()));
    clock.advance(999);
    await flush();
    expect(b.state).toBe("pending");
    clock.advance(1);
    await flush();
    expect(b.state).toBe("rejected");
    expect(isServerError(b.error) && b.error.status).toBe(504);
    expect(isServerError(b.error) && b.error.code).toBe("request_timeout");
    expect(scheduler.has("b")).toBe(false);
    scheduler.cancel("a");
    expect(engine.started).toEqual(["a"]);
    expect(scheduler.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });

  it("rejects a second job with an id already in flight", async () => {
    const { scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("a"));
    const error: unknown = await scheduler.admit(jobForTest("a"), signal()).catch((e: unknown) => e);
    expect(isServerError(error) && error.status).toBe(400);
  });

  it("counts active and queued jobs per profile", async () => {
    const { scheduler } = harnessForTest({ maxConcurrent: 2 });
    track(scheduler.admit(jobForTest("l1"), signal()));
    track(scheduler.admit(jobForTest("b1", { name: "balanced" }), signal()));
    track(scheduler.admit(jobForTest("b2", { name: "balanced" }), signal()));
    track(scheduler.admit(jobForTest("q1", { name: "quality_first" }), signal()));
    await flush();
    expect(scheduler.snapshot()).toEqual({
      active: 2,
      queued: 2,
      perProfile: {
        latency_first: { active: 1, queued: 0 },
        balanced: { active: 1, queued: 1 },
        quality_first: { active: 0, queued: 1 },
      },
    });
    for (const id of ["l1", "b1", "b2", "q1"]) scheduler.cancel(id);
    expect(scheduler.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });
});

describe("Scheduler prefill gathering window", () => {
  it("starts a job at once when the engine is idle: there is no decode to protect", () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 4 });
    track(scheduler.admit(jobForTest("a", { prefillWindowMs: 10 }), signal()));
    expect(engine.started).toEqual(["a"]);
  });

  it("while decoding, holds a new job until its window ends so later arrivals start with it", async () => {
    const { clock, engine, scheduler } = harnessForTest({ maxConcurrent: 5 });
    track(scheduler.admit(jobForTest("busy", { prefillWindowMs: 0 }), signal()));
    expect(engine.started).toEqual(["busy"]);
    const a = track(scheduler.admit(jobForTest("a", { prefillWindowMs: 10 }), signal()));
    clock.advance(6);
    const b = track(scheduler.admit(jobForTest("b", { prefillWindowMs: 10 }), signal()));
    clock.advance(3);
    expect(engine.started).toEqual(["busy"]);
    clock.advance(1);
    expect(engine.started).toEqual(["busy", "a", "b"]);
    await flush();
    expect(a.value?.queuedMs).toBe(10);
    expect(b.value?.queuedMs).toBe(4);
  });

  it("does not wait when the queued jobs already fill the free slots", () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 3 });
    track(scheduler.admit(jobForTest("busy", { prefillWindowMs: 0 }), signal()));
    track(scheduler.admit(jobForTest("a", { prefillWindowMs: 10 }), signal()));
    expect(engine.started).toEqual(["busy"]);
    track(scheduler.admit(jobForTest("b", { prefillWindowMs: 10 }), signal()));
    expect(engine.started).toEqual(["busy", "a", "b"]);
  });
});
