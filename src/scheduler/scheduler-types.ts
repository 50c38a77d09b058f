/**
 * The scheduler's public types. Kept apart from scheduler.ts so that job-stream.ts, the HTTP layer
 * and tests can name them without pulling in the queue logic.
 */
import type { Profile } from "../config/profiles.ts";
import type { GenerationEvent, GenerationRequest } from "../engines/engine.ts";

/** Why a job ended early; callers report it (stats, logs, the cancel endpoint). */
export type CancelReason = "client_disconnect" | "cancel_endpoint" | "timeout" | "shutdown";

export interface Job {
  /** The request id: unique among jobs in flight; `cancel(id)` takes it. */
  id: string;
  /** Priority, per-profile cap, prefill window and timeout come from here. */
  profile: Readonly<Profile>;
  /** Passed unchanged to `engine.generate`. */
  request: GenerationRequest;
}

/** A timer source, injectable so tests drive time by hand (FakeClockForTest). */
export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SchedulerOptions {
  /** Never more engine.generate() calls in flight than this (engine.info.maxSequences). */
  maxConcurrent: number;
  /** Jobs that must wait for a slot beyond this are refused with 429 (see Scheduler.admit). */
  maxQueue: number;
  /** Monotonic milliseconds; defaults to performance.now. */
  now?: () => number;
  /** Defaults to the global setTimeout/clearTimeout. */
  timers?: SchedulerTimers;
  /**
   * Aging: every `agingMs` of waiting improves a queued job's priority by one level, so a
   * quality_first job (priority 2) waits at most ~2 × agingMs behind a stream of latency_first
   * ones. Default 5000.
   */
  agingMs?: number;
}

type EngineFinish = Extract<GenerationEvent, { type: "finish" }>;

/** A finish event; `cancelReason` is set when the scheduler ended the job early. */
export type SchedulerFinishEvent = EngineFinish & { cancelReason?: CancelReason };

/** What a ticket yields: the engine's events unchanged, plus the scheduler's own finish on cancel. */
export type SchedulerEvent = Exclude<GenerationEvent, { type: "finish" }> | SchedulerFinishEvent;

/**
 * A job that got a slot. Iterate it (once) for the engine's events. The engine was already asked
 * to start when the slot was granted, so the time between `admit` resolving and the first `next()`
 * (writing SSE headers, say) is not lost to prefill.
 *
 * How the iteration ends:
 * - the engine's finish event, then done;
 * - cancelled (client_disconnect, cancel_endpoint, shutdown): a finish event with reason
 *   "cancelled" and `cancelReason`, delivered at once even when the engine is slow to stop;
 * - stopped by its consumer (`stop()`: the answer hit a stop string): a finish event with reason
 *   "stop", at once, as the engine's own would be (a stop string is a normal end, not a cancel);
 * - timeout: `next()` rejects with ServerError("request_timeout");
 * - an engine error: `next()` rejects with it;
 * - the consumer leaves early (`break` → `return()`): the engine is aborted.
 * In every case the slot is released exactly once, at the moment the job ends.
 */
export interface Ticket extends AsyncIterable<SchedulerEvent>, AsyncIterator<SchedulerEvent> {
  readonly id: string;
  /** Same object as the ticket itself; named for readability at call sites. */
  readonly events: AsyncIterable<SchedulerEvent>;
  /** One event at a time; one call at a time (as `for await` does). */
  next(): Promise<IteratorResult<SchedulerEvent>>;
  /** Leave early: the engine is aborted and the slot released. */
  return(): Promise<IteratorResult<SchedulerEvent>>;
  /** Milliseconds the job waited in the queue. */
  readonly queuedMs: number;
  /** Set once the scheduler ended the job early; undefined for a normal end or an engine error. */
  readonly cancelReason: CancelReason | undefined;
  /** Ends this job now (like `scheduler.cancel(id, reason)`); false if it had already ended. */
  cancel(reason?: CancelReason): boolean;
  /**
   * The answer is complete (a stop string matched): the engine is aborted, the slot released, and
   * the next event is a finish with reason "stop". False if the job had already ended.
   */
  stop(): boolean;
}

export interface SchedulerSnapshot {
  active: number;
  queued: number;
  perProfile: Record<string, { active: number; queued: number }>;
}
