/**
 * Admission, queueing and slots in front of one engine. See README.md for the rules; in short:
 * lower priority value first, FIFO within a priority, aging against starvation, a per-profile cap
 * beside the global one, a prefill gathering window, an end-to-end deadline per profile, and
 * cancellation that frees the slot at once.
 *
 * Two-step API so the HTTP layer can answer 429/503/504 before any SSE header goes out:
 *   const ticket = await scheduler.admit(job, signal);   // waits for a slot, or rejects
 *   for await (const event of ticket) ...                 // the engine's events
 * `run()` does both in one iterable (its first next() awaits admission).
 */
import { PROFILE_NAMES } from "../config/profiles.ts";
import type { Engine } from "../engines/engine.ts";
import { ServerError } from "../errors/server-error.ts";
import { admitThenIterate } from "./admit-then-iterate.ts";
import { JobCancelledError } from "./job-cancelled-error.ts";
import { JobStream, type JobStreamHooks } from "./job-stream.ts";
import type {
  CancelReason,
  Job,
  SchedulerEvent,
  SchedulerOptions,
  SchedulerSnapshot,
  SchedulerTimers,
  Ticket,
} from "./scheduler-types.ts";

interface Entry {
  readonly job: Job;
  readonly signal: AbortSignal;
  readonly enqueuedAt: number;
  readonly onAbort: () => void;
  readonly resolve: (ticket: Ticket) => void;
  readonly reject: (error: unknown) => void;
  deadline: unknown;
  stream: JobStream | null;
  startedAt: number;
}

interface Counts {
  active: number;
  queued: number;
}

const DEFAULT_AGING_MS = 5000;
/** Until a job has finished, Retry-After assumes one takes this long. */
const DEFAULT_SERVICE_MS = 1000;
const MAX_RETRY_AFTER_S = 60;
const MAX_TIMER_MS = 2 ** 31 - 1;

const realTimers: SchedulerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class Scheduler {
  readonly #engine: Engine;
  readonly #maxConcurrent: number;
  readonly #maxQueue: number;
  readonly #now: () => number;
  readonly #timers: SchedulerTimers;
  readonly #agingMs: number;
  /** Every job in flight, queued or running, by id. */
  readonly #entries = new Map<string, Entry>();
  /** Queued jobs in arrival order (so a strict `<` on priority keeps FIFO). */
  readonly #queue: Entry[] = [];
  readonly #counts = new Map<string, Counts>();
  #active = 0;
  #windowTimer: unknown = null;
  #windowDue = Infinity;
  #serviceMs = DEFAULT_SERVICE_MS;
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  #graceTimer: unknown = null;
  /** Grace is over: start nothing more. */
  #stopping = false;
  readonly #drains = new Set<Promise<void>>();
  readonly #hooks: JobStreamHooks = {
    onEnd: (stream) => this.#release(stream),
    onDrain: (settled) => {
      this.#drains.add(settled);
      void settled.then(() => this.#drains.delete(settled));
    },
    cancel: (stream, reason) => {
      const entry = this.#entries.get(stream.id);
      if (entry === undefined || entry.stream !== stream) return false;
      this.#end(entry, reason);
      return true;
    },
  };

  constructor(engine: Engine, options: SchedulerOptions) {
    this.#engine = engine;
    this.#maxConcurrent = Math.max(1, options.maxConcurrent);
    this.#maxQueue = Math.max(0, options.maxQueue);
    this.#now = options.now ?? (() => performance.now());
    this.#timers = options.timers ?? realTimers;
    this.#agingMs = Math.max(1, options.agingMs ?? DEFAULT_AGING_MS);
    for (const name of PROFILE_NAMES) this.#counts.set(name, { active: 0, queued: 0 });
  }

  /**
   * Resolves with a ticket once the job has a slot (the engine has been asked to start). Rejects
   * with ServerError rate_limit_exceeded (429, Retry-After) when the queue is full, shutting_down
   * (503) after close() or when shutdown ends it in the queue, request_timeout (504) when its
   * deadline passes in the queue, or JobCancelledError when its signal aborts or cancel(id) is
   * called while queued. The queue is full when more jobs would wait for a slot than maxQueue.
   */
  admit(job: Job, signal: AbortSignal): Promise<Ticket> {
    if (this.#closed !== null) return Promise.reject(shuttingDown());
    if (this.#entries.has(job.id)) {
      return Promise.reject(
        new ServerError("invalid_request_error", `Request id ${job.id} is already in flight.`),
      );
    }
    if (signal.aborted) return Promise.reject(new JobCancelledError(job.id, "client_disconnect"));
    const freeSlots = Math.max(0, this.#maxConcurrent - this.#active);
    if (this.#queue.length >= this.#maxQueue + freeSlots) return Promise.reject(this.#queueFull());
    return new Promise<Ticket>((resolve, reject) => {
      const entry: Entry = {
        job,
        signal,
        enqueuedAt: this.#now(),
        onAbort: () => this.#end(entry, "client_disconnect"),
        resolve,
        reject,
        deadline: null,
        stream: null,
        startedAt: 0,
      };
      this.#entries.set(job.id, entry);
      this.#queue.push(entry);
      this.#countsOf(job).queued++;
      signal.addEventListener("abort", entry.onAbort, { once: true });
      const timeoutMs = job.profile.timeoutMs;
      // Node fires at once for delays beyond 2^31-1 ms; an infinite timeout means none.
      if (Number.isFinite(timeoutMs)) {
        entry.deadline = this.#timers.setTimeout(
          () => {
            entry.deadline = null;
            this.#end(entry, "timeout");
          },
          Math.min(Math.max(0, timeoutMs), MAX_TIMER_MS),
        );
      }
      this.#pump();
    });
  }

  /** admit + iterate in one: the first next() awaits admission and throws what admit rejects with. */
  run(job: Job, signal: AbortSignal): AsyncIterable<SchedulerEvent> {
    return admitThenIterate(() => this.admit(job, signal));
  }

  /** Ends a queued or running job now; false when no such job is in flight. Default reason: the endpoint. */
  cancel(id: string, reason: CancelReason = "cancel_endpoint"): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#end(entry, reason);
    return true;
  }

  /** Ids of the requests queued or running, in admission order. */
  requestIds(): string[] {
    return [...this.#entries.keys()];
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  snapshot(): SchedulerSnapshot {
    const perProfile: SchedulerSnapshot["perProfile"] = {};
    for (const [name, counts] of this.#counts) perProfile[name] = { ...counts };
    return { active: this.#active, queued: this.#queue.length, perProfile };
  }

  /**
   * Stops admitting (admit → shutting_down), lets running and queued jobs go on for up to graceMs,
   * then ends the rest with reason "shutdown" (queued ones reject with shutting_down, running ones
   * finish "cancelled"). Resolves when every job has ended and the engine iterators have closed.
   */
  close(graceMs: number): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    if (this.#entries.size > 0) this.#graceTimer = this.#timers.setTimeout(() => this.#stopAll(), graceMs);
    this.#maybeClosed();
    return this.#closed;
  }

  /** Starts queued jobs while slots are free, unless the head job is still gathering its prefill batch. */
  #pump(): void {
    if (this.#stopping) return;
    const now = this.#now();
    let gathered = false;
    while (this.#active < this.#maxConcurrent && this.#queue.length > 0) {
      const pick = this.#pick(now);
      if (pick === null) return;
      if (!gathered) {
        // While the engine is decoding, every prefill interrupts the running streams' next step:
        // prompts arriving within the profile's window start together, so the engine batches their
        // prefills into one interruption. An idle engine has nobody to interrupt: start at once
        // (the window would only add to time-to-first-token). Skip the wait too when the eligible
        // jobs already fill the free slots.
        const windowEnd = pick.entry.enqueuedAt + pick.entry.job.profile.prefillWindowMs;
        if (this.#active > 0 && now < windowEnd && pick.eligible < this.#maxConcurrent - this.#active) {
          this.#armWindow(windowEnd, now);
          return;
        }
        gathered = true;
      }
      this.#start(pick.entry, now);
    }
  }

  /**
   * The next job to start: lowest effective priority (profile priority minus one per agingMs
   * waited), first come first served among equals, skipping profiles at their maxBatchSize.
   * `eligible` counts the queued jobs whose profile has room.
   */
  #pick(now: number): { entry: Entry; eligible: number } | null {
    let best: Entry | null = null;
    let bestPriority = Infinity;
    let eligible = 0;
    for (const entry of this.#queue) {
      const profile = entry.job.profile;
      if (this.#countsOf(entry.job).active >= profile.maxBatchSize) continue;
      eligible++;
      const priority = profile.priority - Math.floor((now - entry.enqueuedAt) / this.#agingMs);
      if (priority < bestPriority) {
        best = entry;
        bestPriority = priority;
      }
    }
    return best === null ? null : { entry: best, eligible };
  }

  #armWindow(due: number, now: number): void {
    if (this.#windowTimer !== null) {
      if (this.#windowDue <= due) return;
      this.#timers.clearTimeout(this.#windowTimer);
    }
    this.#windowDue = due;
    this.#windowTimer = this.#timers.setTimeout(
      () => {
        this.#windowTimer = null;
        this.#windowDue = Infinity;
        this.#pump();
      },
      Math.max(1, Math.ceil(due - now)),
    );
  }

  #start(entry: Entry, now: number): void {
    this.#queue.splice(this.#queue.indexOf(entry), 1);
    const counts = this.#countsOf(entry.job);
    counts.queued--;
    counts.active++;
    this.#active++;
    entry.startedAt = now;
    entry.stream = new JobStream(entry.job, this.#engine, now - entry.enqueuedAt, this.#hooks);
    entry.resolve(entry.stream);
  }

  /** Ends a job early, wherever it is. */
  #end(entry: Entry, reason: CancelReason): void {
    if (this.#entries.get(entry.job.id) !== entry) return;
    if (entry.stream !== null) {
      entry.stream.interrupt(reason); // calls #release through onEnd
      return;
    }
    this.#queue.splice(this.#queue.indexOf(entry), 1);
    this.#countsOf(entry.job).queued--;
    this.#forget(entry);
    entry.reject(queuedError(entry, reason));
    this.#maybeClosed();
  }

  /** A running job ended (any way): free its slot, exactly once, and start the next. */
  #release(stream: JobStream): void {
    const entry = this.#entries.get(stream.id);
    // Identity check: a stale stream must never release a newer job that reuses its id.
    if (entry === undefined || entry.stream !== stream) return;
    this.#countsOf(entry.job).active--;
    this.#active--;
    this.#forget(entry);
    // Exponential average of service time, for Retry-After.
    this.#serviceMs = 0.8 * this.#serviceMs + 0.2 * (this.#now() - entry.startedAt);
    this.#pump();
    this.#maybeClosed();
  }

  #forget(entry: Entry): void {
    this.#entries.delete(entry.job.id);
    entry.signal.removeEventListener("abort", entry.onAbort);
    if (entry.deadline !== null) this.#timers.clearTimeout(entry.deadline);
    entry.deadline = null;
  }

  #stopAll(): void {
    this.#graceTimer = null;
    // Set first: ending a running job frees a slot, and nothing queued may take it now.
    this.#stopping = true;
    for (const entry of [...this.#entries.values()]) this.#end(entry, "shutdown");
  }

  #maybeClosed(): void {
    const resolve = this.#resolveClosed;
    if (resolve === null || this.#entries.size > 0) return;
    this.#resolveClosed = null;
    if (this.#graceTimer !== null) this.#timers.clearTimeout(this.#graceTimer);
    if (this.#windowTimer !== null) this.#timers.clearTimeout(this.#windowTimer);
    this.#graceTimer = this.#windowTimer = null;
    void Promise.all(this.#drains).then(() => resolve());
  }

  #countsOf(job: Job): Counts {
    let counts = this.#counts.get(job.profile.name);
    if (counts === undefined) {
      counts = { active: 0, queued: 0 };
      this.#counts.set(job.profile.name, counts);
    }
    return counts;
  }

  #queueFull(): ServerError {
    const waves = Math.ceil((this.#queue.length + 1) / this.#maxConcurrent);
    const seconds = Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil((this.#serviceMs * waves) / 1000)));
    return new ServerError(
      "rate_limit_exceeded",
      `The queue is full (${this.#queue.length} requests waiting); retry after ${seconds} s.`,
      { headers: { "Retry-After": String(seconds) } },
    );
  }
}

function shuttingDown(): ServerError {
  return new ServerError("shutting_down", "The server is shutting down.");
}

function queuedError(entry: Entry, reason: CancelReason): Error {
  if (reason === "shutdown") return shuttingDown();
  if (reason === "timeout") {
    const ms = entry.job.profile.timeoutMs;
    return new ServerError(
      "request_timeout",
      `Request ${entry.job.id} waited its whole ${ms} ms timeout in the queue.`,
    );
  }
  return new JobCancelledError(entry.job.id, reason);
}
