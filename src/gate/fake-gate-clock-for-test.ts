/**
 * A test double of GateClock: time moves only when the test says so. Sleepers wake in order of
 * their deadline when `advance` passes it.
 */
import type { GateClock } from "./gate-clock.ts";

export class FakeGateClockForTest implements GateClock {
  #now = 0;
  #sleepers: Array<{ at: number; wake: () => void }> = [];

  now(): number {
    return this.#now;
  }

  sleepUntil(atMs: number): Promise<void> {
    if (atMs <= this.#now) return Promise.resolve();
    return new Promise((wake) => this.#sleepers.push({ at: atMs, wake }));
  }

  /** Moves time forward by `ms`, waking every sleeper whose deadline passed, one at a time. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      // Let woken code run to its next sleep (all pending microtasks) before time moves on.
      await new Promise((resolve) => setImmediate(resolve));
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (next === undefined || next.at > target) break;
      this.#sleepers.shift();
      this.#now = next.at;
      next.wake();
    }
    this.#now = target;
    await new Promise((resolve) => setImmediate(resolve));
  }

  get pendingSleepers(): number {
    return this.#sleepers.length;
  }
}
