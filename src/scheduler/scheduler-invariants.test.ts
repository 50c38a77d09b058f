/**
 * Random interleavings of admissions, engine output, cancels, client aborts, consumer breaks and
 * time, checking the invariants that no single scenario test covers at once: caps hold, every slot
 * is released exactly once (active equals started minus ended), and close() ends everything.
 */
import { describe, expect, it } from "vitest";
import { PROFILE_NAMES, type ProfileName } from "../config/profiles.ts";
import {
  flush,
  harnessForTest,
  jobForTest,
  track,
  type TrackedForTest,
} from "./scheduler-harness-for-test.ts";
import type { SchedulerEvent, Ticket } from "./scheduler-types.ts";

/** Deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const CAPS: Record<ProfileName, number> = { latency_first: 3, balanced: 2, quality_first: 1 };
const MAX_CONCURRENT = 4;

describe("Scheduler invariants under random interleavings", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`holds caps and releases every slot exactly once (seed ${seed})`, async () => {
      const random = prng(seed);
      const { clock, engine, scheduler } = harnessForTest({
        maxConcurrent: MAX_CONCURRENT,
        maxQueue: 6,
        agingMs: 50,
      });
      const clients = new Map<string, AbortController>();
      const admissions: TrackedForTest<Ticket>[] = [];
      const consumers: TrackedForTest<SchedulerEvent[]>[] = [];
      let nextId = 0;

      const consume = (ticket: Ticket): void => {
        const breakAfter = random(4) === 0 ? 1 + random(3) : Infinity;
        consumers.push(
          track(
            (async () => {
              const events: SchedulerEvent[] = [];
              for await (const event of ticket) {
                events.push(event);
                if (events.length >= breakAfter) break;
              }
              return events;
            })(),
          ),
        );
      };

      for (let step = 0; step < 250; step++) {
        const ids = [...clients.keys()];
        const someId = ids[random(Math.max(1, ids.length))];
        switch (random(7)) {
          case 0:
          case 1: {
            const id = `j${nextId++}`;
            const name = PROFILE_NAMES[random(3)] ?? "balanced";
            const client = new AbortController();
            clients.set(id, client);
            const job = jobForTest(id, {
              name,
              maxBatchSize: CAPS[name],
              priority: random(3),
              prefillWindowMs: random(3) * 5,
              timeoutMs: 20 + random(400),
            });
            const admission = scheduler.admit(job, client.signal);
            admissions.push(track(admission));
            admission.then(consume, () => undefined);
            break;
          }
          case 2:
            if (someId !== undefined && engine.started.includes(someId)) engine.runOf(someId).emit([step]);
            break;
          case 3:
            if (someId !== undefined && engine.started.includes(someId)) engine.runOf(someId).finish();
            break;
          case 4:
            if (someId !== undefined) scheduler.cancel(someId);
            break;
          case 5:
            if (someId !== undefined) clients.get(someId)?.abort();
            break;
          default:
            clock.advance(random(30));
        }
        await flush(3);

        const snapshot = scheduler.snapshot();
        expect(snapshot.active).toBeLessThanOrEqual(MAX_CONCURRENT);
        for (const name of PROFILE_NAMES) {
          expect(snapshot.perProfile[name]?.active ?? 0).toBeLessThanOrEqual(CAPS[name]);
        }
        const ended = consumers.filter((c) => c.state !== "pending").length;
        expect(snapshot.active).toBe(engine.started.length - ended);
        const waiting = admissions.filter((a) => a.state === "pending").length;
        expect(snapshot.queued).toBe(waiting);
      }

      const closed = track(scheduler.close(100));
      clock.advance(100);
      await flush();
      expect(closed.state).toBe("resolved");
      expect(scheduler.snapshot()).toMatchObject({ active: 0, queued: 0 });
      expect(admissions.every((a) => a.state !== "pending")).toBe(true);
      // A consumer ends with its events, or with the one error a running job may throw: a timeout.
      for (const consumer of consumers) {
        if (consumer.state === "rejected") expect(consumer.error).toMatchObject({ code: "request_timeout" });
        else expect(consumer.state).toBe("resolved");
      }
      expect(engine.live).toBe(0);
    });
  }
});
