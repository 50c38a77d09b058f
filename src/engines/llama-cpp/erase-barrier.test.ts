import { describe, expect, it } from "vitest";
import { EraseBarrier } from "./erase-barrier.ts";

describe("EraseBarrier", () => {
  it("is open when no erase is waiting", () => {
    expect(new EraseBarrier().passage).toBeUndefined();
  });

  it("holds steps until every waiting erase is done, then lets them through", async () => {
    const barrier = new EraseBarrier();
    let finishFirst = (): void => undefined;
    let finishSecond = (): void => undefined;
    const first = barrier.run(() => new Promise<void>((r) => (finishFirst = r)));
    const second = barrier.run(() => new Promise<void>((r) => (finishSecond = r)));
    let passed = false;
    void barrier.passage?.then(() => (passed = true));
    finishFirst();
    await first;
    await Promise.resolve();
    expect(passed).toBe(false);
    finishSecond();
    await second;
    await Promise.resolve();
    expect(passed).toBe(true);
    expect(barrier.passage).toBeUndefined();
  });

  it("opens again when an erase fails", async () => {
    const barrier = new EraseBarrier();
    await expect(barrier.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(barrier.passage).toBeUndefined();
  });
});
