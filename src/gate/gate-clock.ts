/**
 * The one clock the load runners use, injectable so that the open-loop scheduler can be tested
 * without real time passing (see FakeGateClockForTest).
 */
export interface GateClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Resolves at (or just after) `atMs` on this clock. */
  sleepUntil(atMs: number): Promise<void>;
}

export const realClock: GateClock = {
  now: () => performance.now(),
  sleepUntil: (atMs) => {
    const wait = atMs - performance.now();
    return wait <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, wait));
  },
};
