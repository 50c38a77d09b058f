/**
 * Test helpers shared by the scheduler's tests: a scheduler on a FakeClockForTest and a
 * FakeEngineForTest, job builders, and a promise tracker. Test-only; nothing in src/ imports it.
 */
import { PROFILES, type Profile } from "../config/profiles.ts";
import { FakeClockForTest } from "./fake-clock-for-test.ts";
import { FakeEngineForTest, type FakeEngineForTestOptions } from "./fake-engine-for-test.ts";
import { Scheduler } from "./scheduler.ts";
import type { Job, SchedulerEvent, Ticket } from "./scheduler-types.ts";

export interface HarnessForTest {
  clock: FakeClockForTest;
  engine: FakeEngineForTest;
  scheduler: Scheduler;
}

export function harnessForTest(
  options: {
    maxConcurrent?: number;
    maxQueue?: number;
    agingMs?: number;
    engine?: FakeEngineForTestOptions;
  } = {},
): HarnessForTest {
  const clock = new FakeClockForTest();
  const engine = new FakeEngineForTest(options.engine ?? {});
  const scheduler = new Scheduler(engine, {
    maxConcurrent: options.maxConcurrent ?? 1,
    maxQueue: options.maxQueue ?? 100,
    now: clock.now,
    timers: clock,
    ...(options.agingMs === undefined ? {} : { agingMs: options.agingMs }),
  });
  return { clock, engine, scheduler };
}

/** A latency_first job with no prefill window unless the overrides set one. */
export function jobForTest(id: string, overrides: Partial<Profile> = {}): Job {
  return {
    id,
    profile: { ...PROFILES.latency_first, prefillWindowMs: 0, ...overrides },
    request: {
      id,
      promptTokens: [1, 2, 3],
      sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
      stopTokens: [],
      maxTokens: 16,
    },
  };
}

export interface TrackedForTest<T> {
  state: "pending" | "resolved" | "rejected";
  value: T | undefined;
  error: unknown;
}

export function track<T>(promise: Promise<T>): TrackedForTest<T> {
  const tracked: TrackedForTest<T> = { state: "pending", value: undefined, error: undefined };
  promise.then(
    (value) => {
      tracked.state = "resolved";
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.state = "rejected";
      tracked.error = error;
    },
  );
  return tracked;
}

/** Lets pending promise chains and setImmediate callbacks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Admits a job that must get a slot at once. */
export async function admitNow(
  scheduler: Scheduler,
  job: Job,
  signal = new AbortController().signal,
): Promise<Ticket> {
  const tracked = track(scheduler.admit(job, signal));
  await flush(1);
  if (tracked.state !== "resolved" || tracked.value === undefined) throw new Error(`${job.id} did not start`);
  return tracked.value;
}

export async function collect(events: AsyncIterable<SchedulerEvent>): Promise<SchedulerEvent[]> {
  const out: SchedulerEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

export function mustForTest<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("expected a value");
  return value;
}
