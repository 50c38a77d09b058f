/**
 * The engine over the native decode core (native-core.ts): the same Engine semantics as the
 * node-llama-cpp engine (llama-cpp-engine.ts), but decoding, sampling and stop tokens run in the
 * core's own loop; this side hands in requests, routes the core's deliveries to their streams, and
 * owns the slots (a SequencePool with the tokens each slot's KV cache holds, for prefix reuse).
 *
 * node-llama-cpp still loads llama.cpp: `getLlama` picks the right prebuilt libllama (CPU, CUDA,
 * Vulkan) and registers its backends, and the core drives that same library.
 */
import { availableParallelism } from "node:os";
import type { Llama } from "node-llama-cpp";
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  FinishReason,
  GenerationEvent,
  GenerationRequest,
  GenerationUsage,
  TokenLogprob,
} from "../engine.ts";
import { ServerError } from "../../errors/server-error.ts";
import { beginSlotGeneration, slotEngineHealth } from "../generation-limits.ts";
import { SequencePool } from "../sequence-pool.ts";
import { silentEngineLogger, type EngineLogger } from "../llama-runtime/engine-logger.ts";
import { formatStepProfile, stepProfile } from "./step-profile.ts";
import { loadLlama } from "../llama-runtime/gpu-setup.ts";
import type { LlamaCppEngineOptions } from "../llama-cpp/llama-cpp-engine.ts";
import {
  loadedLibllamaPath,
  loadNativeCore,
  NATIVE_CORE_PATH,
  type NativeCore,
  type NativeCoreStats,
  type NativeOpenOptions,
  type NativeSlotEvents,
} from "./native-core.ts";
import { toNativeRequest } from "./native-request.ts";
import { SlotRun } from "./slot-run.ts";

export interface NativeEngineOptions extends LlamaCppEngineOptions {
  /** Host threads sampling a step's sequences in parallel (default: defaultSamplerThreads). */
  samplerThreads?: number;
  /** Engine replicas on this machine (`--gpus 0,1,2,3`: 4), whose sampler threads share its cores. */
  replicas?: number;
  /** Most tokens one decode step carries (default 2048, at most the whole KV cache). */
  batchSize?: number;
  /**
   * Keep the busy sequences' KV streams consecutive by moving sequences into gaps (the core's
   * compact_streams). Default: GPTOSS_COMPACT_STREAMS=on; off until a GPU run has measured it.
   */
  compactStreams?: boolean;
}

/**
 * Sampler threads when none are asked for. On a GPU the host cores only sample: up to 16 (more
 * gain nothing for 64 streams), leaving two cores for Node and the OS, and shared among the
 * replicas on this machine (each spins its threads for a few milliseconds after a step: four
 * replicas of 16 on a 64-core host would leave no core for their decode loops and HTTP). On the
 * CPU they also run the model: llama.cpp's `threads`.
 */
export function defaultSamplerThreads(o: {
  onGpu: boolean;
  threads: number;
  cores: number;
  replicas: number;
}): number {
  if (!o.onGpu) return o.threads;
  return Math.min(16, Math.max(1, Math.floor((o.cores - 2) / Math.max(1, o.replicas))));
}

/**
 * A free slot holding up to this many fewer cached prompt tokens than the best one is as good:
 * re-reading 256 tokens costs ~25 ms once on an H100, a split batch costs a pass over the weights
 * on every step while the slots stay apart.
 */
const COMPACT_WITHIN_TOKENS = 256;

/**
 * GPTOSS_BLOCK_STATS: NativeOpenOptions.blockStats. "auto", the default (with the logits on a GPU and at
 * least 8 sequences in a step: +6-13% decode tok/s at 8-128 streams on an H100, docs/benchmarks.md run 4),
 * "on" (also 1, true, yes: every step), or "off" (also 0, false, no: the host reads whole rows). Anything
 * else is the default.
 */
export function blockStatsSetting(value: string | undefined): "auto" | "on" | "off" {
  const v = value?.trim().toLowerCase();
  if (v === "on" || v === "1" || v === "true" || v === "yes") return "on";
  if (v === "off" || v === "0" || v === "false" || v === "no") return "off";
  return "auto";
}

/** Why the native core cannot run here, or undefined when it can (the caller falls back). */
export function nativeCoreUnavailable(): string | undefined {
  if (loadNativeCore() === undefined) {
    return `the native core is not built (${NATIVE_CORE_PATH}; node scripts/build-native.mjs builds it)`;
  }
  // loadedLibllamaPath() reads /proc/self/maps; it can only be asked once llama.cpp is loaded.
  if (process.platform !== "linux") return "the native core runs on Linux only";
  return undefined;
}

export async function createNativeEngine(options: NativeEngineOptions): Promise<Engine> {
  const addon = loadNativeCore();
  if (addon === undefined) {
    throw new ServerError("engine_error", `Cannot start the native engine: ${nativeCoreUnavailable()}.`);
  }
  const logger = options.logger ?? silentEngineLogger;
  const { llama, effectiveMode, devices } = await loadLlama(options.gpuMode, options.threads ?? 0, logger, {
    tensorSplit: true,
  });
  let core: NativeCore | undefined;
  try {
    const libllamaPath = loadedLibllamaPath();
    if (libllamaPath === undefined) throw new Error("the libllama node-llama-cpp loaded was not found");
    const sequences = options.maxSequences;
    const contextPerSequence = options.contextSizePerSequence;
    const threads =
      options.threads !== undefined && options.threads > 0 ? options.threads : llama.cpuMathCores;
    const onGpu = effectiveMode !== "cpu";
    const openOptions: NativeOpenOptions = {
      libllamaPath,
      modelPath: options.modelPath,
      gpuLayers: onGpu ? -1 : 0,
      splitMode: effectiveMode === "pipeline" ? "layer" : effectiveMode === "tensor" ? "tensor" : "none",
      sequences,
      contextPerSequence,
      // At least one token per sequence fits a step (the core refuses less).
      batchSize: Math.max(sequences, options.batchSize ?? Math.min(2048, sequences * contextPerSequence)),
      threads,
      samplerThreads:
        options.samplerThreads ??
        defaultSamplerThreads({
          onGpu,
          threads,
          cores: availableParallelism(),
          replicas: options.replicas ?? 1,
        }),
      // Spin a little longer than a lone stream's step on an H100 (~3.5 ms), so that the sampler
      // threads are awake when its logits arrive; 0 on the CPU, where llama.cpp needs the cores.
      samplerSpinMicros: onGpu ? 5_000 : 0,
      // llama.cpp's tensor split needs flash attention; elsewhere it decides by the device.
      flashAttention: effectiveMode === "tensor" ? "on" : "auto",
      // auto unless GPTOSS_BLOCK_STATS says otherwise (docs/gpu.md section 4).
      blockStats: blockStatsSetting(process.env.GPTOSS_BLOCK_STATS),
      compactStreams: (options.compactStreams ?? process.env.GPTOSS_COMPACT_STREAMS === "on") ? "on" : "off",
    };
    // No delivery can come before the first add(), so the engine exists by the time one does.
    const route: { engine?: NativeEngine } = {};
    core = await addon.open(openOptions, (events) => {
      try {
        route.engine?.deliver(events);
      } catch (error) {
        // Thrown into the addon's callback it would take the process down; it is a bug to report.
        logger.error(`native engine: a delivery failed: ${errorMessage(error)}`);
      }
    });
    logger.info(
      `native engine ready: ${options.modelId} on ${effectiveMode}` +
        `${devices.length > 0 ? ` (${devices.join(", ")})` : ""}, ${core.info.sequences} sequences × ` +
        `${core.info.contextPerSequence} tokens, ${core.info.gpuLayers} layers on the GPU, ` +
        `${openOptions.samplerThreads} sampler threads, steps of up to ${openOptions.batchSize} tokens`,
    );
    route.engine = new NativeEngine(
      core,
      {
        name: "llama-cpp-native",
        modelId: options.modelId,
        modelSize: options.modelSize,
        contextSize: core.info.contextPerSequence,
        maxSequences: core.info.sequences,
        gpuMode: effectiveMode,
        gpuCount: devices.length,
        randomWeights: options.randomWeights,
        capabilities: { prefixCache: true, grammar: true, logprobs: true },
      },
      { logger, afterClose: () => llama.dispose() },
    );
    logStepProfiles(core, route.engine, logger);
    return route.engine;
  } catch (error) {
    await core?.close().catch(() => undefined);
    await disposeQuietly(llama);
    throw new ServerError("engine_error", `Could not load ${options.modelPath}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

export interface NativeEngineHooks {
  logger?: EngineLogger;
  /** Runs after the core closed (disposes the Llama that loaded libllama). */
  afterClose?: () => Promise<void>;
}

/** Exported for the unit tests, which drive it with a FakeNativeCore; servers use createNativeEngine. */
export class NativeEngine implements Engine {
  readonly info: EngineInfo;
  readonly #core: NativeCore;
  readonly #hooks: NativeEngineHooks;
  readonly #pool: SequencePool<number>;
  /** What each slot's KV cache holds, as far as prefix reuse may trust it. */
  readonly #slotTokens: (readonly number[])[];
  /** Slots the core is generating on (until their native finish, even after their stream ended). */
  readonly #runs = new Map<number, SlotRun>();
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;
  /** The core's failure has been logged (it is logged once; health() reports it every time). */
  #failureLogged = false;

  constructor(core: NativeCore, info: EngineInfo, hooks: NativeEngineHooks = {}) {
    this.#core = core;
    this.info = info;
    this.#hooks = hooks;
    const slots = Array.from({ length: info.maxSequences }, (_, slot) => slot);
    this.#slotTokens = slots.map(() => []);
    // Compact placement: requests that share only a system prompt fill gaps and grow one run of
    // busy slots, so llama.cpp decodes them in one batch (sequence-pool.ts, slot-placement.ts).
    this.#pool = new SequencePool(slots, (slot) => this.#slotTokens[slot] ?? [], {
      compactWithin: COMPACT_WITHIN_TOKENS,
    });
  }

  /** The core's `onEvents`: one delivery, on the JS thread. */
  deliver(events: readonly NativeSlotEvents[]): void {
    for (const event of events) {
      const run = this.#runs.get(event.slot);
      if (run === undefined) {
        this.#hooks.logger?.warn(`native core: a delivery for slot ${event.slot}, which runs nothing`);
        continue;
      }
      run.receive(event);
      const finish = event.finish;
      if (finish === undefined) continue;
      if (finish.reason === "error") this.#logCoreFailure();
      this.#runs.delete(event.slot);
      // After an error the cache's content is unknown: the next request on the slot reuses nothing.
      this.#slotTokens[event.slot] =
        finish.reason === "error" ? [] : run.cachedTokens().slice(0, finish.kvLength);
      // Only now may another request have the slot: the core was still writing its cache.
      this.#pool.release(event.slot);
    }
  }

  async *generate(req: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    const start = await beginSlotGeneration(req, signal, {
      info: this.info,
      closing: this.#closing.signal,
      pool: this.#pool,
    });
    try {
      const { lease, usage } = start;
      if (lease === undefined) {
        yield { type: "finish", reason: "cancelled", usage };
        return;
      }
      yield* this.#stream(this.#start(req, lease.slot, lease.reuse, start.budget), usage, start.stop);
    } finally {
      start.dispose();
    }
  }

  /** Adds the request to the core; on refusal the slot goes back (its cache now untrusted). */
  #start(req: GenerationRequest, slot: number, reuse: number, budget: number): SlotRun {
    const run = new SlotRun(slot, req.promptTokens);
    this.#runs.set(slot, run);
    try {
      this.#core.add(
        toNativeRequest(req, slot, reuse, budget, this.#core.info.eogTokens, this.#core.info.vocabSize),
      );
    } catch (error) {
      this.#runs.delete(slot);
      this.#slotTokens[slot] = [];
      this.#pool.release(slot);
      if (error instanceof ServerError) throw error;
      throw new ServerError("engine_error", `The native core refused the request: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    return run;
  }

  async *#stream(run: SlotRun, usage: GenerationUsage, stop: AbortSignal): AsyncGenerator<GenerationEvent> {
    // An abort cancels at once, even while the consumer is not reading; the stream then ends
    // "cancelled" without waiting for the core, and the slot returns at the native finish.
    const onAbort = (): void => this.#cancel(run);
    stop.addEventListener("abort", onAbort, { once: true });
    let reason: FinishReason = "cancelled";
    let stopToken: number | undefined;
    try {
      for (;;) {
        if (stop.aborted) break;
        const delivery = run.take();
        if (delivery === undefined) {
          await run.arrival();
          continue;
        }
        if (delivery.tokens.length > 0) {
          const tokens = Array.from(delivery.tokens);
          usage.completionTokens += tokens.length;
          const logprobs = tokenLogprobs(delivery);
          yield logprobs === undefined ? { type: "tokens", tokens } : { type: "tokens", tokens, logprobs };
        }
        const finish = delivery.finish;
        if (finish === undefined) continue;
        usage.cachedTokens = finish.cachedTokens;
        if (finish.reason === "error") throw generationError(finish.message);
        reason = finish.reason;
        // The core ends on a stop token right after sampling it: it is the last token delivered.
        if (reason === "stop") stopToken = run.lastToken();
        break;
      }
    } finally {
      stop.removeEventListener("abort", onAbort);
      // Aborted, or the consumer stopped reading (return()): the core must stop generating.
      if (!run.finished) this.#cancel(run);
      run.detach();
    }
    yield stopToken === undefined
      ? { type: "finish", reason, usage }
      : { type: "finish", reason, stopToken, usage };
  }

  #cancel(run: SlotRun): void {
    run.interrupt();
    if (run.finished || run.cancelRequested) return;
    run.cancelRequested = true;
    try {
      this.#core.cancel(run.slot);
    } catch (error) {
      // A closed core has cancelled everything itself.
      this.#hooks.logger?.debug(`native core: cancel(${run.slot}) failed: ${errorMessage(error)}`);
    }
  }

  health(): EngineHealth {
    // Leased slots, including cancelled ones whose native finish has not come yet: still busy.
    const activeSequences = this.#pool.active;
    if (this.#closing.signal.aborted) return slotEngineHealth(true, activeSequences);
    const stats = this.#core.stats();
    const failure = coreFailure(stats);
    if (failure !== undefined) return { status: "failed", activeSequences, detail: failure };
    return slotEngineHealth(false, activeSequences, stats.steps > 0 ? stats.lastStepMs : undefined);
  }

  /** An error finish may be the first sign that the core failed or the weights are broken: say so once. */
  #logCoreFailure(): void {
    if (this.#failureLogged) return;
    const failure = coreFailure(this.#core.stats());
    if (failure === undefined) return;
    this.#failureLogged = true;
    this.#hooks.logger?.error(`native engine: ${failure}; the engine reports failed from now on`);
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    // Running streams cancel and end "cancelled"; waiting ones are refused; the core then stops.
    this.#closing.abort(new ServerError("shutting_down", "The engine is closed."));
    this.#pool.close();
    try {
      await this.#core.close();
    } finally {
      await this.#hooks.afterClose?.();
    }
  }
}

/**
 * Why the core can serve no more, or undefined. A loop that caught an exception takes no work; NaN
 * or +inf logits mean the model's weights are broken, so every request would fail (the sampler
 * would otherwise read NaN rows as "every token is excluded", a user error, while health said ready).
 */
function coreFailure(stats: NativeCoreStats): string | undefined {
  if (stats.failed) return `native core failed: ${stats.failure ?? "unknown error"}`;
  if (stats.nonFiniteLogits > 0) return "non-finite logits";
  return undefined;
}

/** A delivery's flattened logprob arrays → one TokenLogprob per token (undefined: none asked for). */
export function tokenLogprobs(delivery: NativeSlotEvents): TokenLogprob[] | undefined {
  const { logprobs, topTokens, topLogprobs } = delivery;
  if (logprobs === undefined || topTokens === undefined || topLogprobs === undefined) return undefined;
  const count = delivery.tokens.length;
  const topN = count > 0 ? topTokens.length / count : 0;
  return Array.from({ length: count }, (_, i) => ({
    logprob: logprobs[i] ?? Number.NEGATIVE_INFINITY,
    top: Array.from({ length: topN }, (_, k) => ({
      token: topTokens[i * topN + k] ?? 0,
      logprob: topLogprobs[i * topN + k] ?? Number.NEGATIVE_INFINITY,
    })),
  }));
}

/**
 * The core's sampler ends a sequence with this message (native/src/decode_loop.cpp) when logit_bias
 * bans and the grammar together leave no token: the request's doing, so a 400 (or an error event),
 * never an engine failure that would count toward readiness.
 */
const ALL_EXCLUDED = "every token is excluded";
/**
 * The core could not parse the request's grammar (native/src/decode_loop.cpp): the server built a
 * grammar llama.cpp refuses for this one request, a bug of ours, not the engine failing. An
 * internal_error, so it neither restarts the worker nor counts toward readiness (a client could
 * otherwise send a healthy server unready with five such requests).
 */
const GRAMMAR_UNPARSABLE = "llama.cpp could not parse the grammar";

function generationError(message: string | undefined): ServerError {
  if (message?.startsWith(ALL_EXCLUDED) === true) {
    return new ServerError("invalid_value", `Generation stopped: ${message}`, { param: "logit_bias" });
  }
  if (message?.startsWith(GRAMMAR_UNPARSABLE) === true) {
    return new ServerError(
      "internal_error",
      `Generation failed: ${message} this server built for the request`,
    );
  }
  return new ServerError("engine_error", `Generation failed: ${message ?? "native core error"}`);
}

/** Every 10 s while the core works: where its time went (the GPU benchmark's profile). */
function logStepProfiles(core: NativeCore, engine: NativeEngine, logger: EngineLogger): void {
  let before = core.stats();
  let at = performance.now();
  const timer = setInterval(() => {
    if (engine.health().status !== "ready") {
      clearInterval(timer);
      return;
    }
    const now = performance.now();
    const after = core.stats();
    const profile = stepProfile(before, after, now - at);
    if (profile !== undefined) logger.info(formatStepProfile(profile));
    before = after;
    at = now;
  }, 10_000);
  timer.unref();
}

async function disposeQuietly(llama: Llama): Promise<void> {
  try {
    await llama.dispose();
  } catch {
    // Already failing: the load error is the one to report.
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
