/**
 * Lets a sequence erase its stale tail while other sequences keep decoding.
 *
 * node-llama-cpp erases KV cells under the context's lock, and its batch loop holds that lock for
 * as long as decodes keep being queued: with streams running, every running sequence queues its
 * next decode during the current one, so an erase waited until all of them finished (measured: a
 * new request's first token 17 s late behind 4 running streams on the tiny model). While an erase
 * waits, running generations hold their next step at this barrier; the queue drains after the
 * current batch, the lock passes to the erase, and decoding resumes: one skipped step instead of a
 * stall.
 */
export class EraseBarrier {
  #pending = 0;
  #released: Promise<void> = Promise.resolve();
  #release: () => void = () => undefined;

  /** Resolves at once unless an erase is waiting for the context lock. */
  get passage(): Promise<void> | undefined {
    return this.#pending > 0 ? this.#released : undefined;
  }

  /** Runs `erase` while generations hold their next step. */
  async run(erase: () => Promise<void>): Promise<void> {
    if (this.#pending === 0) {
      this.#released = new Promise((resolve) => {
        this.#release = resolve;
      });
    }
    this.#pending++;
    try {
      await erase();
    } finally {
      this.#pending--;
      if (this.#pending === 0) this.#release();
    }
  }
}
