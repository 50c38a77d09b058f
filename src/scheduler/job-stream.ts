/**
 * The event stream of one running job: wraps the engine's iterator so that the scheduler can end
 * the job at once (cancel, timeout, shutdown) even while the consumer is awaiting an engine event
 * that may take a while to come (a long prefill, an engine slow to notice the abort).
 *
 * Hot path: this wraps every token event, so `next()` allocates one promise and nothing else, and
 * hands the engine's own IteratorResult through unchanged.
 */
import type { Engine, GenerationEvent } from "../engines/engine.ts";
import { ServerError } from "../errors/server-error.ts";
import type { CancelReason, Job, SchedulerEvent, Ticket } from "./scheduler-types.ts";

/** What the scheduler learns from a stream; each callback is called at most once per stream. */
export interface JobStreamHooks {
  /** The job ended (any way); release its slot now. Called exactly once. */
  onEnd(stream: JobStream): void;
  /** The engine iterator's return() is in progress; shutdown awaits it. Never rejects. */
  onDrain(settled: Promise<void>): void;
  /** Ends this stream's job (and never a newer job that reuses its id). */
  cancel(stream: JobStream, reason: CancelReason): boolean;
}

type Result = IteratorResult<SchedulerEvent>;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const EMPTY_ITERATOR: AsyncIterator<GenerationEvent> = { next: () => Promise.resolve(DONE) };
const noop = (): void => {};
const asError = (value: unknown): Error => (value instanceof Error ? value : new Error(String(value)));

export class JobStream implements Ticket, AsyncIterator<SchedulerEvent> {
  readonly id: string;
  readonly queuedMs: number;
  readonly #job: Job;
  readonly #hooks: JobStreamHooks;
  readonly #controller = new AbortController();
  readonly #engineIterator: AsyncIterator<GenerationEvent>;
  /** The engine's first next(), asked for at dispatch so prefill starts with the slot. */
  #prefetched: Promise<IteratorResult<GenerationEvent>> | null;
  /** live → (interrupted → ) done. "interrupted": ended by the scheduler, terminal not yet read. */
  #state: "live" | "interrupted" | "done" = "live";
  #cancelReason: CancelReason | undefined;
  /** Ended by `stop()`: the terminal event is a normal finish. */
  #stopped = false;
  #completionTokens = 0;
  #resolve: ((result: Result) => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;

  constructor(job: Job, engine: Engine, queuedMs: number, hooks: JobStreamHooks) {
    this.id = job.id;
    this.queuedMs = queuedMs;
    this.#job = job;
    this.#hooks = hooks;
    let iterator = EMPTY_ITERATOR;
    let first: Promise<IteratorResult<GenerationEvent>>;
    try {
      iterator = engine.generate(job.request, this.#controller.signal)[Symbol.asyncIterator]();
      first = iterator.next();
    } catch (error) {
      first = Promise.reject(asError(error));
    }
    // Handled when the consumer reads it; this only keeps an unread rejection from being reported
    // as unhandled (the job may be cancelled before anyone reads).
    first.catch(noop);
    this.#engineIterator = iterator;
    this.#prefetched = first;
  }

  get events(): AsyncIterable<SchedulerEvent> {
    return this;
  }

  get cancelReason(): CancelReason | undefined {
    return this.#cancelReason;
  }

  [Symbol.asyncIterator](): AsyncIterator<SchedulerEvent> {
    return this;
  }

  cancel(reason: CancelReason = "cancel_endpoint"): boolean {
    return this.#hooks.cancel(this, reason);
  }

  stop(): boolean {
    if (this.#state !== "live") return false;
    this.#stopped = true;
    return this.interrupt(undefined);
  }

  next(): Promise<Result> {
    if (this.#state === "done") return Promise.resolve(DONE);
    if (this.#state === "interrupted") return this.#terminal();
    if (this.#resolve !== null) {
      return Promise.reject(new Error(`JobStream ${this.id}: next() called while another next() is pending`));
    }
    let pending = this.#prefetched;
    this.#prefetched = null;
    if (pending === null) {
      try {
        pending = this.#engineIterator.next();
      } catch (error) {
        pending = Promise.reject(asError(error));
      }
    }
    const engineResult = pending;
    return new Promise<Result>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      engineResult.then(this.#onResult, this.#onError);
    });
  }

  /** The consumer left early (`break`): stop the engine, free the slot. */
  return(): Promise<Result> {
    if (this.#state === "live") {
      this.#state = "done";
      this.#controller.abort();
      this.#closeEngine();
      const resolve = this.#resolve;
      this.#resolve = this.#reject = null;
      resolve?.(DONE);
      this.#hooks.onEnd(this);
    }
    this.#state = "done";
    return Promise.resolve(DONE);
  }

  /**
   * The scheduler ends the job: abort the engine, free the slot now, and give a pending `next()`
   * its terminal result now rather than when the engine gets round to finishing.
   */
  interrupt(reason: CancelReason | undefined): boolean {
    if (this.#state !== "live") return false;
    this.#state = "interrupted";
    this.#cancelReason = reason;
    this.#controller.abort();
    this.#closeEngine();
    if (this.#resolve !== null) {
      const resolve = this.#resolve;
      const reject = this.#reject ?? noop;
      this.#resolve = this.#reject = null;
      this.#terminal().then(resolve, reject);
    }
    this.#hooks.onEnd(this);
    return true;
  }

  readonly #onResult = (result: IteratorResult<GenerationEvent>): void => {
    const resolve = this.#resolve;
    if (resolve === null) return; // interrupted or returned meanwhile: the consumer has its end
    this.#resolve = this.#reject = null;
    if (result.done === true) {
      // An engine that ends without a finish event: end the job all the same.
      this.#end();
    } else if (result.value.type === "tokens") {
      this.#completionTokens += result.value.tokens.length;
    } else if (result.value.type === "parsed") {
      this.#completionTokens += result.value.tokenCount ?? 0;
    } else {
      this.#end();
    }
    resolve(result);
  };

  readonly #onError = (error: unknown): void => {
    const reject = this.#reject;
    if (reject === null) return;
    this.#resolve = this.#reject = null;
    this.#state = "done";
    this.#hooks.onEnd(this);
    reject(error);
  };

  #end(): void {
    this.#state = "done";
    // Let a generator-based engine run its `finally` (which frees its sequence) now, instead of
    // leaving it suspended after its last yield.
    this.#closeEngine();
    this.#hooks.onEnd(this);
  }

  #terminal(): Promise<Result> {
    this.#state = "done";
    if (this.#cancelReason === "timeout") {
      const ms = this.#job.profile.timeoutMs;
      return Promise.reject(
        new ServerError(
          "request_timeout",
          `Request ${this.id} exceeded its ${ms} ms timeout while generating.`,
        ),
      );
    }
    return Promise.resolve({
      done: false,
      value: {
        type: "finish",
        reason: this.#stopped ? "stop" : "cancelled",
        // The engine's own usage is not awaited (the slot is freed at once): prompt and completion
        // counts are what was sent and delivered; cached tokens are unknown here.
        usage: {
          promptTokens: this.#job.request.promptTokens.length,
          cachedTokens: 0,
          completionTokens: this.#completionTokens,
        },
        ...(this.#cancelReason === undefined ? {} : { cancelReason: this.#cancelReason }),
      },
    });
  }

  #closeEngine(): void {
    const iterator = this.#engineIterator;
    if (iterator.return === undefined) return;
    try {
      this.#hooks.onDrain(Promise.resolve(iterator.return()).then(noop, noop));
    } catch {
      // An engine whose return() throws has nothing left to close.
    }
  }
}
