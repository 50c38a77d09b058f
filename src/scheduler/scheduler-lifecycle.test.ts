import { describe, expect, it } from "vitest";
import { isServerError, ServerError } from "../errors/server-error.ts";
import { FakeEngineForTest } from "./fake-engine-for-test.ts";
import { isJobCancelledError } from "./job-cancelled-error.ts";
import { Scheduler } from "./scheduler.ts";
import {
  admitNow,
  collect,
  flush,
  harnessForTest,
  jobForTest,
  mustForTest,
  track,
} from "./scheduler-harness-for-test.ts";

const signal = (): AbortSignal => new AbortController().signal;

describe("Scheduler job lifecycle", () => {
  it("passes the engine's events through and releases the slot at the finish", async () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 1 });
    const ticket = await admitNow(scheduler, jobForTest("a"));
    const next = track(scheduler.admit(jobForTest("b"), signal()));
    const run = engine.runOf("a");
    run.emit([7, 8]);
    run.emit([9]);
    run.finish("stop");
    const events = await collect(ticket);
    expect(events).toEqual([
      { type: "tokens", tokens: [7, 8] },
      { type: "tokens", tokens: [9] },
      { type: "finish", reason: "stop", usage: { promptTokens: 3, cachedTokens: 0, completionTokens: 3 } },
    ]);
    expect(ticket.cancelReason).toBeUndefined();
    expect(await ticket.next()).toEqual({ done: true, value: undefined });
    await flush();
    expect(next.state).toBe("resolved");
    expect(scheduler.snapshot().active).toBe(1);
    expect(run.closed).toBe(true); // the engine's generator ran its finally
  });

  it("starts the engine at admission, before the consumer asks for an event", async () => {
    const { engine, scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("a"));
    await flush();
    expect(engine.live).toBe(1);
  });

  it("cancels a queued job at once", async () => {
    const { engine, scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("a"));
    const b = track(scheduler.admit(jobForTest("b"), signal()));
    expect(scheduler.cancel("b")).toBe(true);
    await flush();
    expect(isJobCancelledError(b.error) && b.error.reason).toBe("cancel_endpoint");
    expect(scheduler.has("b")).toBe(false);
    expect(scheduler.cancel("b")).toBe(false);
    expect(scheduler.snapshot()).toMatchObject({ active: 1, queued: 0 });
    scheduler.cancel("a");
    expect(engine.started).toEqual(["a"]);
  });

  it("cancels a running job and frees its slot at once, even if the engine is slow to stop", async () => {
    const { engine, scheduler } = harnessForTest({ engine: { ignoreAbort: true } });
    const a = await admitNow(scheduler, jobForTest("a"));
    engine.runOf("a").emit([5]);
    expect(await a.next()).toEqual({ done: false, value: { type: "tokens", tokens: [5] } });
    const pending = a.next(); // waits on an engine that will not answer
    track(scheduler.admit(jobForTest("b"), signal()));
    expect(scheduler.cancel("a")).toBe(true);
    expect(engine.started).toEqual(["a", "b"]); // the next job started synchronously
    expect(await pending).toEqual({
      done: false,
      value: {
        type: "finish",
        reason: "cancelled",
        usage: { promptTokens: 3, cachedTokens: 0, completionTokens: 1 },
        cancelReason: "cancel_endpoint",
      },
    });
    expect(await a.next()).toEqual({ done: true, value: undefined });
    expect(a.cancelReason).toBe("cancel_endpoint");
    expect(engine.runOf("a").signal.aborted).toBe(true);
    expect(scheduler.snapshot().active).toBe(1);
  });

  it("stop(): a consumer that has its answer (a stop string) ends the job as a normal finish, not a cancel", async () => {
    const { engine, scheduler } = harnessForTest({ maxConcurrent: 1 });
    const a = await admitNow(scheduler, jobForTest("a"));
    engine.runOf("a").emit([5, 6]);
    expect(await a.next()).toEqual({ done: false, value: { type: "tokens", tokens: [5, 6] } });
    const b = track(scheduler.admit(jobForTest("b"), signal()));
    expect(a.stop()).toBe(true);
    expect(engine.runOf("a").signal.aborted).toBe(true);
    expect(await a.next()).toEqual({
      done: false,
      value: {
        type: "finish",
        reason: "stop",
        usage: { promptTokens: 3, cachedTokens: 0, completionTokens: 2 },
      },
    });
    expect(a.cancelReason).toBeUndefined();
    expect(await a.next()).toEqual({ done: true, value: undefined });
    expect(a.stop()).toBe(false);
    expect(a.cancel()).toBe(false);
    await flush();
    expect(b.state).toBe("resolved"); // the slot went to the next job
  });

  it("times out a generating job: 504 from the iterator, engine aborted, slot freed", async () => {
    const { clock, engine, scheduler } = harnessForTest();
    const a = await admitNow(scheduler, jobForTest("a", { timeoutMs: 1000 }));
    const pending = track(a.next());
    clock.advance(1000);
    await flush();
    expect(pending.state).toBe("rejected");
    expect(isServerError(pending.error) && pending.error.code).toBe("request_timeout");
    expect(isServerError(pending.error) && pending.error.status).toBe(504);
    expect(a.cancelReason).toBe("timeout");
    expect(engine.runOf("a").signal.aborted).toBe(true);
    expect(engine.runOf("a").closed).toBe(true);
    expect(scheduler.snapshot().active).toBe(0);
    expect(await a.next()).toEqual({ done: true, value: undefined });
  });

  it("times out a job that is between events: the next next() throws 504", async () => {
    const { clock, scheduler } = harnessForTest();
    const a = await admitNow(scheduler, jobForTest("a", { timeoutMs: 1000 }));
    clock.advance(1000);
    expect(scheduler.has("a")).toBe(false);
    await expect(a.next()).rejects.toMatchObject({ code: "request_timeout" });
  });

  it("handles a client abort while queued and while running", async () => {
    const { engine, scheduler } = harnessForTest();
    const runningClient = new AbortController();
    const queuedClient = new AbortController();
    const a = await admitNow(scheduler, jobForTest("a"), runningClient.signal);
    const b = track(scheduler.admit(jobForTest("b"), queuedClient.signal));
    queuedClient.abort();
    await flush();
    expect(isJobCancelledError(b.error) && b.error.reason).toBe("client_disconnect");
    runningClient.abort();
    expect(engine.runOf("a").signal.aborted).toBe(true);
    const events = await collect(a);
    expect(events).toMatchObject([
      { type: "finish", reason: "cancelled", cancelReason: "client_disconnect" },
    ]);
    expect(scheduler.snapshot()).toMatchObject({ active: 0, queued: 0 });
    expect(engine.started).toEqual(["a"]);
  });

  it("refuses a job whose signal is already aborted", async () => {
    const { scheduler } = harnessForTest();
    const client = new AbortController();
    client.abort();
    await expect(scheduler.admit(jobForTest("a"), client.signal)).rejects.toSatisfy(isJobCancelledError);
  });

  it("releases the slot once when the consumer breaks out early, and aborts the engine", async () => {
    const { engine, scheduler } = harnessForTest({ engine: { autoTokens: 100 } });
    const a = await admitNow(scheduler, jobForTest("a"));
    const b = track(scheduler.admit(jobForTest("b"), signal()));
    let seen = 0;
    for await (const event of a) {
      expect(event.type).toBe("tokens");
      if (++seen === 3) break;
    }
    expect(engine.runOf("a").signal.aborted).toBe(true);
    await flush();
    expect(engine.runOf("a").closed).toBe(true);
    expect(b.state).toBe("resolved");
    expect(scheduler.cancel("a")).toBe(false);
    expect(await a.return()).toEqual({ done: true, value: undefined });
    expect(scheduler.snapshot()).toMatchObject({ active: 1, queued: 0 });
    expect(await collect(mustForTest(b.value))).toHaveLength(101);
    expect(scheduler.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });

  it("never lets a stale ticket release a newer job with the same id", async () => {
    const { engine, scheduler } = harnessForTest();
    const old = await admitNow(scheduler, jobForTest("a"));
    engine.runOf("a").finish();
    await collect(old);
    await admitNow(scheduler, jobForTest("a"));
    await old.return();
    expect(old.cancel()).toBe(false);
    expect(scheduler.snapshot().active).toBe(1);
    expect(engine.runOf("a").signal.aborted).toBe(false);
  });

  it("passes an engine error through and releases the slot", async () => {
    const { engine, scheduler } = harnessForTest();
    const a = await admitNow(scheduler, jobForTest("a"));
    engine.runOf("a").fail(new ServerError("engine_error", "boom"));
    await expect(a.next()).rejects.toMatchObject({ code: "engine_error" });
    expect(scheduler.snapshot().active).toBe(0);
    expect(scheduler.has("a")).toBe(false);
    expect(a.cancel()).toBe(false);
  });
});

describe("Scheduler.run", () => {
  it("awaits admission in the first next() and then streams", async () => {
    const { engine, scheduler } = harnessForTest({ engine: { autoTokens: 2 } });
    const events = await collect(scheduler.run(jobForTest("a"), signal()));
    expect(events.map((e) => e.type)).toEqual(["tokens", "tokens", "finish"]);
    expect(engine.started).toEqual(["a"]);
    expect(scheduler.snapshot().active).toBe(0);
  });

  it("gives the slot straight back when the consumer leaves while waiting for admission", async () => {
    const { engine, scheduler } = harnessForTest();
    await admitNow(scheduler, jobForTest("busy"));
    const iterator = scheduler.run(jobForTest("b"), signal())[Symbol.asyncIterator]();
    const first = track(iterator.next());
    await iterator.return?.();
    scheduler.cancel("busy");
    await flush();
    expect(first.value).toEqual({ done: true, value: undefined });
    expect(engine.started).toEqual(["busy", "b"]);
    expect(engine.runOf("b").signal.aborted).toBe(true);
    expect(scheduler.snapshot().active).toBe(0);
  });

  it("works on the real clock and timers (prefill window, then both jobs run)", async () => {
    const engine = new FakeEngineForTest({ autoTokens: 3 });
    const scheduler = new Scheduler(engine, { maxConcurrent: 4, maxQueue: 4 });
    const runs = ["a", "b"].map((id) =>
      collect(scheduler.run(jobForTest(id, { prefillWindowMs: 2 }), signal())),
    );
    const results = await Promise.all(runs);
    expect(results.map((events) => events.at(-1))).toMatchObject([
      { type: "finish", reason: "length" },
      { type: "finish", reason: "length" },
    ]);
    expect(engine.started).toEqual(["a", "b"]);
    await scheduler.close(0);
  });

  it("throws the admission error from the first next()", async () => {
    const { scheduler } = harnessForTest({ maxConcurrent: 1, maxQueue: 0 });
    await admitNow(scheduler, jobForTest("a"));
    const iterator = scheduler.run(jobForTest("b"), signal())[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toMatchObject({ status: 429 });
  });
});

describe("Scheduler.close", () => {
  it("refuses new jobs, lets running and queued ones finish within the grace, then resolves", async () => {
    const { engine, scheduler } = harnessForTest();
    const a = await admitNow(scheduler, jobForTest("a"));
    const b = track(scheduler.admit(jobForTest("b"), signal()));
    const closed = track(scheduler.close(10_000));
    await expect(scheduler.admit(jobForTest("c"), signal())).rejects.toMatchObject({ code: "shutting_down" });
    await expect(
      scheduler.run(jobForTest("d"), signal())[Symbol.asyncIterator]().next(),
    ).rejects.toMatchObject({
      status: 503,
    });
    engine.runOf("a").finish();
    await collect(a);
    await flush();
    expect(b.state).toBe("resolved");
    expect(closed.state).toBe("pending");
    engine.runOf("b").finish();
    await collect(mustForTest(b.value));
    await flush();
    expect(closed.state).toBe("resolved");
    expect(engine.started).toEqual(["a", "b"]);
  });

  it("cancels what is left when the grace ends", async () => {
    const { clock, engine, scheduler } = harnessForTest();
    const a = await admitNow(scheduler, jobForTest("a", { timeoutMs: 60_000 }));
    const b = track(scheduler.admit(jobForTest("b", { timeoutMs: 60_000 }), signal()));
    const closed = track(scheduler.close(1000));
    clock.advance(999);
    await flush();
    expect(closed.state).toBe("pending");
    clock.advance(1);
    await flush();
    expect(isServerError(b.error) && b.error.code).toBe("shutting_down");
    expect(await collect(a)).toMatchObject([
      { type: "finish", reason: "cancelled", cancelReason: "shutdown" },
    ]);
    expect(engine.started).toEqual(["a"]); // b never took a's freed slot
    expect(engine.runOf("a").closed).toBe(true);
    expect(closed.state).toBe("resolved");
    expect(scheduler.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });

  it("resolves at once when idle", async () => {
    const { scheduler } = harnessForTest();
    await expect(scheduler.close(1000)).resolves.toBeUndefined();
  });
});
