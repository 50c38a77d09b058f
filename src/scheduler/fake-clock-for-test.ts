/**
 * Test double: a manual clock and timer source for the scheduler (SchedulerOptions.now/timers),
 * so tests move time with `advance(ms)` and never depend on wall time.
 */
import type { SchedulerTimers } from "./scheduler-types.ts";

interface PendingTimer {
  due: number;
  fn: () => void;
}

export class FakeClockForTest implements SchedulerTimers {
  #now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, PendingTimer>();

  readonly now = (): number => this.#now;

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { due: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing due timers in due order (then creation order), each at its due time. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let next: PendingTimer | undefined;
      for (const [id, timer] of this.#timers) {
        if (timer.due <= target && (next === undefined || timer.due < next.due)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(nextId);
      this.#now = next.due;
      next.fn();
    }
    this.#now = target;
  }
}
