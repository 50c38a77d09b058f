/**
 * FakeNativeCore: a test double of the native core (native-core.ts `NativeCore`) for the native
 * engine's unit tests. It decodes nothing: a test scripts each delivery (`emit`, `finish`), which
 * reaches the engine through the `onEvents` callback exactly as the addon's deliveries do (one call
 * per delivery, on the JS thread), and inspects what the engine asked of it (`added`, `cancelled`).
 * `failForTest` and `finishNonFinite` fail it the ways the addon fails (decode_loop.cpp).
 */
import type {
  NativeCore,
  NativeCoreInfo,
  NativeCoreStats,
  NativeFinishReason,
  NativeSequenceRequest,
  NativeSlotEvents,
} from "./native-core.ts";

/** Every counter at zero: a core that has not stepped yet (also the base of the step-profile tests). */
export function zeroStats(): NativeCoreStats {
  return {
    steps: 0,
    decodedTokens: 0,
    sampledTokens: 0,
    decodeMs: 0,
    sampleMs: 0,
    waitMs: 0,
    stepMs: 0,
    lastStepMs: 0,
    pureDecodeSteps: 0,
    pureDecodeSequences: 0,
    pureDecodeMs: 0,
    pureDecodeLaunchMs: 0,
    pureDecodeWaitMs: 0,
    pureDecodeSampleMs: 0,
    pureDecodeReusedGraphs: 0,
    pureDecodeSplitSteps: 0,
    streamMoves: 0,
    activeSequences: 0,
    nonFiniteLogits: 0,
    grammarMaskHits: 0,
    grammarFullChecks: 0,
    grammarForcedTokens: 0,
    blockStatDraws: 0,
    blockStatMisses: 0,
    blockStatMismatches: 0,
    failed: false,
  };
}

interface ActiveSlot {
  request: NativeSequenceRequest;
  /** Tokens delivered so far: the finish's default kvLength follows from them. */
  generated: number;
}

export class FakeNativeCore implements NativeCore {
  readonly info: NativeCoreInfo;
  /** Every request the engine added, in order. */
  readonly added: NativeSequenceRequest[] = [];
  /** Every slot the engine asked to cancel, in order. */
  readonly cancelled: number[] = [];
  closed = false;
  /** When set, add() throws it (an addon refusing a request). */
  failNextAdd: Error | undefined;
  lastStepMs = 0;
  #deliveries = 0;
  #nonFiniteLogits = 0;
  #failure: string | undefined;
  readonly #onEvents: (events: NativeSlotEvents[]) => void;
  readonly #active = new Map<number, ActiveSlot>();
  readonly #addWaiters: Array<(request: NativeSequenceRequest) => void> = [];

  constructor(info: Partial<NativeCoreInfo>, onEvents: (events: NativeSlotEvents[]) => void) {
    this.info = {
      vocabSize: 1000,
      eogTokens: [],
      contextPerSequence: 64,
      sequences: 1,
      gpuLayers: 0,
      ...info,
    };
    this.#onEvents = onEvents;
  }

  add(request: NativeSequenceRequest): void {
    const failure = this.failNextAdd;
    if (failure !== undefined) {
      this.failNextAdd = undefined;
      throw failure;
    }
    if (this.#failure !== undefined) throw new Error(loopFailed(this.#failure));
    if (this.closed) throw new Error("FakeNativeCore: closed");
    if (request.slot < 0 || request.slot >= this.info.sequences) throw new Error("FakeNativeCore: bad slot");
    if (this.#active.has(request.slot)) throw new Error(`FakeNativeCore: slot ${request.slot} is busy`);
    if (request.reuse >= request.tokens.length) throw new Error("FakeNativeCore: reuse >= prompt length");
    this.#active.set(request.slot, { request, generated: 0 });
    this.added.push(request);
    for (const resolve of this.#addWaiters.splice(0)) resolve(request);
  }

  cancel(slot: number): void {
    this.cancelled.push(slot);
  }

  stats(): NativeCoreStats {
    return {
      ...zeroStats(),
      steps: this.#deliveries,
      lastStepMs: this.lastStepMs,
      activeSequences: this.#active.size,
      nonFiniteLogits: this.#nonFiniteLogits,
      failed: this.#failure !== undefined,
      ...(this.#failure !== undefined ? { failure: this.#failure } : {}),
    };
  }

  /** As the addon's loop failing: every active slot finishes "error", then add() throws. */
  failForTest(message: string): void {
    this.#failure = message;
    for (const slot of [...this.#active.keys()]) this.finish(slot, "error", { message: loopFailed(message) });
  }

  /** As the addon on NaN/inf logits: `slot` finishes "error" and the counter goes up. */
  finishNonFinite(slot: number): void {
    this.#nonFiniteLogits++;
    this.finish(slot, "error", { message: "the model produced non-finite logits (NaN/inf)" });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Resolves with the next request the engine adds (or the latest one, if it was added already). */
  nextAdd(after = this.added.length): Promise<NativeSequenceRequest> {
    const existing = this.added[after];
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve) => this.#addWaiters.push(resolve));
  }

  isActive(slot: number): boolean {
    return this.#active.has(slot);
  }

  /** One delivery of sampled tokens for `slot`. */
  emit(slot: number, tokens: readonly number[]): void {
    this.#deliver(slot, tokens);
  }

  /**
   * A delivery that finishes `slot` (with `tokens` sampled last). By default the KV cache holds the
   * prompt and every generated token but the last, and the whole reuse asked was served.
   */
  finish(
    slot: number,
    reason: NativeFinishReason,
    options: { tokens?: readonly number[]; cachedTokens?: number; kvLength?: number; message?: string } = {},
  ): void {
    this.#deliver(slot, options.tokens ?? [], reason, options);
  }

  #deliver(
    slot: number,
    tokens: readonly number[],
    reason?: NativeFinishReason,
    options: { cachedTokens?: number; kvLength?: number; message?: string } = {},
  ): void {
    const active = this.#active.get(slot);
    if (active === undefined) throw new Error(`FakeNativeCore: slot ${slot} is not generating`);
    active.generated += tokens.length;
    this.#deliveries++;
    const event: NativeSlotEvents = { slot, tokens: Int32Array.from(tokens) };
    if (reason !== undefined) {
      this.#active.delete(slot);
      const promptLength = active.request.tokens.length;
      event.finish = {
        reason,
        cachedTokens: options.cachedTokens ?? active.request.reuse,
        kvLength: options.kvLength ?? promptLength + Math.max(0, active.generated - 1),
        ...(options.message !== undefined ? { message: options.message } : {}),
      };
    }
    this.#onEvents([event]);
  }
}

/** The addon's message for requests the failed loop ended, and for add() after it (decode_loop.cpp). */
function loopFailed(failure: string): string {
  return `the decode loop failed: ${failure}`;
}
