/**
 * Test double: an Engine whose token emission the test drives by hand (`runOf(id).emit(...)`,
 * `.finish()`, `.fail()`), or that emits N tokens on its own with setImmediate between them.
 * It follows the engine contract (abort → finish "cancelled") unless told to ignore aborts, which
 * lets tests show that the scheduler frees a slot without waiting for the engine.
 */
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  FinishReason,
  GenerationEvent,
  GenerationRequest,
} from "../engines/engine.ts";

export interface FakeEngineForTestOptions {
  /** Emit this many one-token events, then finish "length", without the test's help. */
  autoTokens?: number;
  /** Do not react to the abort signal (an engine slow to stop). */
  ignoreAbort?: boolean;
}

export class FakeRunForTest {
  readonly request: GenerationRequest;
  readonly signal: AbortSignal;
  /** True once the engine's generator has run its `finally` (its sequence is free). */
  closed = false;
  /** A FinishReason stands for a finish event, built when taken so its usage counts every token. */
  readonly #events: (GenerationEvent | FinishReason | Error)[] = [];
  #wake: (() => void) | null = null;
  #completionTokens = 0;

  constructor(request: GenerationRequest, signal: AbortSignal) {
    this.request = request;
    this.signal = signal;
    signal.addEventListener("abort", () => this.#notify(), { once: true });
  }

  emit(tokens: number[]): void {
    this.#events.push({ type: "tokens", tokens });
    this.#notify();
  }

  finish(reason: FinishReason = "stop"): void {
    this.#events.push(reason);
    this.#notify();
  }

  fail(error: Error): void {
    this.#events.push(error);
    this.#notify();
  }

  finishEvent(reason: FinishReason): GenerationEvent {
    return {
      type: "finish",
      reason,
      usage: {
        promptTokens: this.request.promptTokens.length,
        cachedTokens: 0,
        completionTokens: this.#completionTokens,
      },
    };
  }

  /** The next event the engine yields; waits for the test (or the abort). */
  async take(ignoreAbort: boolean): Promise<GenerationEvent> {
    for (;;) {
      const event = this.#events.shift();
      if (event instanceof Error) throw event;
      if (typeof event === "string") return this.finishEvent(event);
      if (event !== undefined) {
        if (event.type === "tokens") this.#completionTokens += event.tokens.length;
        return event;
      }
      if (this.signal.aborted && !ignoreAbort) return this.finishEvent("cancelled");
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

export class FakeEngineForTest implements Engine {
  readonly info: EngineInfo;
  /** Request ids in the order generate() was called. */
  readonly started: string[] = [];
  readonly #runs = new Map<string, FakeRunForTest>();
  readonly #options: FakeEngineForTestOptions;
  /** Generators that have started and not yet closed. */
  live = 0;

  constructor(options: FakeEngineForTestOptions = {}) {
    this.#options = options;
    this.info = {
      name: "fake-for-test",
      modelId: "fake-for-test",
      modelSize: "tiny",
      contextSize: 4096,
      maxSequences: 4,
      gpuMode: "cpu",
      randomWeights: true,
      capabilities: { prefixCache: false, grammar: false },
    };
  }

  runOf(id: string): FakeRunForTest {
    const run = this.#runs.get(id);
    if (run === undefined) throw new Error(`FakeEngineForTest: ${id} was never started`);
    return run;
  }

  generate(req: GenerationRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    const run = new FakeRunForTest(req, signal);
    this.#runs.set(req.id, run);
    this.started.push(req.id);
    return this.#generate(run);
  }

  async *#generate(run: FakeRunForTest): AsyncGenerator<GenerationEvent> {
    this.live++;
    try {
      const auto = this.#options.autoTokens;
      if (auto !== undefined) {
        for (let i = 0; i < auto; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          if (run.signal.aborted) break;
          run.emit([i]);
          yield await run.take(false);
        }
        yield run.finishEvent(run.signal.aborted ? "cancelled" : "length");
        return;
      }
      for (;;) {
        const event = await run.take(this.#options.ignoreAbort ?? false);
        yield event;
        if (event.type === "finish") return;
      }
    } finally {
      this.live--;
      run.closed = true;
    }
  }

  health(): EngineHealth {
    return { status: "ready", activeSequences: this.live };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
