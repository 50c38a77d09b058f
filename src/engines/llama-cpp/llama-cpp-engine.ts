/**
 * The embedded engine: llama.cpp in-process through node-llama-cpp 3.22.1, used at the token level
 * (LlamaContextSequence.evaluate), not through LlamaChatSession: prompts arrive already rendered by
 * the harmony layer, and sampling, stop tokens and cancellation are ours.
 *
 * One model, one context with `maxSequences` sequences that node-llama-cpp decodes together in one
 * batch per step; a SequencePool hands each request the free sequence holding the longest prefix of
 * its prompt (architecture.md, "The embedded engine").
 */
import type {
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammarEvaluationState,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  FinishReason,
  GenerationEvent,
  GenerationRequest,
} from "../engine.ts";
import { isServerError, ServerError } from "../../errors/server-error.ts";
import { beginSlotGeneration, slotEngineHealth } from "../generation-limits.ts";
import { SequencePool } from "../sequence-pool.ts";
import { silentEngineLogger, type EngineLogger } from "../llama-runtime/engine-logger.ts";
import { loadLlama, type GpuMode } from "../llama-runtime/gpu-setup.ts";
import { endOfGenerationTokens, GrammarCache, withEogBans } from "./grammar-support.ts";
import { toEvaluateOptions } from "./sampler-options.ts";
import { EraseBarrier } from "./erase-barrier.ts";
import { abortOutcome, ABORTED, closeEvaluation } from "./step-control.ts";

export interface LlamaCppEngineOptions {
  modelPath: string;
  /** The id clients send as `model`. */
  modelId: string;
  /** "20b" | "120b" | "tiny" | "file". */
  modelSize: string;
  randomWeights: boolean;
  maxSequences: number;
  /** Tokens of context each sequence gets; the KV cache holds maxSequences times this. */
  contextSizePerSequence: number;
  gpuMode: GpuMode;
  /** CPU threads for evaluation; 0 or undefined lets llama.cpp choose. */
  threads?: number;
  logger?: EngineLogger;
}

/** How long close() waits for running generations to hand their sequences back. */
const CLOSE_DRAIN_MS = 5_000;

export async function createLlamaCppEngine(options: LlamaCppEngineOptions): Promise<Engine> {
  const logger = options.logger ?? silentEngineLogger;
  const threads = options.threads ?? 0;
  const { llama, effectiveMode, devices } = await loadLlama(options.gpuMode, threads, logger);
  let model: LlamaModel | undefined;
  try {
    model = await llama.loadModel({
      modelPath: options.modelPath,
      gpuLayers: effectiveMode === "cpu" ? 0 : "auto",
    });
    const context = await model.createContext({
      sequences: options.maxSequences,
      // node-llama-cpp's contextSize is per sequence: it allocates sequences × contextSize cells.
      contextSize: options.contextSizePerSequence,
      // gpt-oss alternates sliding-window and full attention layers. Without a full SWA cache only
      // the last window of a sequence survives, so prefixes could not be reused.
      swaFullCache: true,
      flashAttention: "auto",
      ...(threads > 0 ? { threads } : {}),
    });
    logger.info(
      `llama.cpp engine ready: ${options.modelId} on ${effectiveMode}` +
        `${devices.length > 0 ? ` (${devices.join(", ")})` : ""}, ${options.maxSequences} sequences × ` +
        `${context.contextSize} tokens, flash attention ${context.flashAttention}`,
    );
    return new LlamaCppEngine(llama, model, context, {
      name: "llama-cpp",
      modelId: options.modelId,
      modelSize: options.modelSize,
      // One cell spare: node-llama-cpp shifts the context (drops its beginning) when a decode
      // would fill it, and a silent shift would corrupt the conversation.
      contextSize: context.contextSize - 1,
      maxSequences: options.maxSequences,
      gpuMode: effectiveMode,
      gpuCount: devices.length,
      randomWeights: options.randomWeights,
      // No logprobs: node-llama-cpp's sampler gives no access to the logits of the token it drew
      // (serving answers 400 and names the native engine, which has them).
      capabilities: { prefixCache: true, grammar: true, logprobs: false },
    });
  } catch (error) {
    await model?.dispose();
    await llama.dispose();
    throw new ServerError("engine_error", `Could not load ${options.modelPath}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

class LlamaCppEngine implements Engine {
  readonly info: EngineInfo;
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  readonly #pool: SequencePool<LlamaContextSequence>;
  readonly #grammars: GrammarCache;
  /** Computed on the first grammar request: a scan of the vocabulary. */
  #eogTokens: number[] | undefined;
  readonly #closing = new AbortController();
  readonly #eraseBarrier = new EraseBarrier();
  /** Resolve when a leased sequence is back in the pool (close() waits for them). */
  readonly #leases = new Set<Promise<void>>();
  #lastStepMs: number | undefined;
  #closed: Promise<void> | undefined;

  constructor(llama: Llama, model: LlamaModel, context: LlamaContext, info: EngineInfo) {
    this.#llama = llama;
    this.#model = model;
    this.#context = context;
    this.info = info;
    this.#grammars = new GrammarCache(llama, model);
    const sequences = Array.from({ length: info.maxSequences }, () => context.getSequence());
    this.#pool = new SequencePool(sequences, (sequence) => sequence.contextTokens);
  }

  async *generate(req: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    const start = await beginSlotGeneration(req, signal, {
      info: this.info,
      closing: this.#closing.signal,
      pool: this.#pool,
    });
    const { stop, budget, usage, lease } = start;
    const prompt = req.promptTokens;
    try {
      if (lease === undefined) {
        yield { type: "finish", reason: "cancelled", usage };
        return;
      }
      const sequence = lease.slot;
      const reuse = lease.reuse;
      let markReturned!: () => void;
      const returned = new Promise<void>((resolve) => (markReturned = resolve));
      this.#leases.add(returned);
      const giveBack = (): void => {
        this.#pool.release(sequence);
        this.#leases.delete(returned);
        markReturned();
      };

      const generated: number[] = [];
      // Under a grammar a stop token can only come where the output is complete, so it always ends
      // the generation (engine.ts); otherwise ignore_eos and min_tokens may carry on past it.
      const grammar = req.grammar;
      const stopTokens = new Set(
        req.ignoreStopTokens === true && grammar === undefined ? [] : req.stopTokens,
      );
      // A stop token sampled before minTokens does not end generation (it is streamed like any token).
      const minTokens = grammar === undefined ? (req.minTokens ?? 0) : 0;
      const aborted = abortOutcome(stop);
      let reason: FinishReason = "length";
      let stopToken: number | undefined;
      let failed = false;
      let evaluation: AsyncGenerator<Token, void, void | Token | Token[]> | undefined;
      let pendingStep: Promise<unknown> | undefined;
      try {
        if (sequence.nextTokenIndex > reuse) {
          // Drop what differs from this prompt (the previous request's tail); the prefix stays.
          const tail = [{ start: reuse, end: sequence.nextTokenIndex }];
          await this.#eraseBarrier.run(() => sequence.eraseContextTokenRanges(tail));
        }
        usage.cachedTokens = reuse;
        let sampling = req.sampling;
        let grammarState: LlamaGrammarEvaluationState | undefined;
        if (grammar !== undefined) {
          grammarState = await this.#grammars.evaluationState(grammar.gbnf);
          this.#eogTokens ??= endOfGenerationTokens(this.#model);
          sampling = {
            ...sampling,
            logitBias: withEogBans(sampling.logitBias, this.#eogTokens, req.stopTokens),
          };
        }
        const options = toEvaluateOptions(sampling, {
          model: this.#model,
          generated,
          maxGenerated: budget,
        });
        if (grammarState !== undefined) options.grammarEvaluationState = grammarState;
        // Token is a branded number in node-llama-cpp; prompt tokens are ids of this model's vocabulary.
        evaluation = sequence.evaluate(prompt.slice(reuse) as Token[], options);
        while (generated.length < budget) {
          if (stop.aborted) {
            reason = "cancelled";
            break;
          }
          // Another sequence is waiting to erase: hold this step so the decode loop lets it in.
          const passage = this.#eraseBarrier.passage;
          if (passage !== undefined) await passage;
          const stepStarted = performance.now();
          const step = evaluation.next();
          // A step (one batched decode, or the whole prompt) cannot be interrupted natively; on abort
          // the stream ends now and the sequence goes back to the pool when the step is over.
          const outcome = await Promise.race([step, aborted.promise]);
          if (outcome === ABORTED) {
            pendingStep = step;
            reason = "cancelled";
            break;
          }
          if (outcome.done === true) throw new Error("the sequence stopped producing tokens");
          if (generated.length > 0) this.#lastStepMs = performance.now() - stepStarted;
          const token = outcome.value;
          generated.push(token);
          usage.completionTokens = generated.length;
          yield { type: "tokens", tokens: [token] };
          if (stopTokens.has(token) && generated.length >= minTokens) {
            reason = "stop";
            stopToken = token;
            break;
          }
        }
      } catch (error) {
        failed = true;
        if (isServerError(error)) throw error;
        throw new ServerError("engine_error", `Generation failed: ${errorMessage(error)}`, { cause: error });
      } finally {
        aborted.dispose();
        // The sequence keeps its tokens for prefix reuse; after a failure its state is unknown, so it
        // is cleared. A cancelled stream does not wait for its last step: the caller moves on at once.
        const closing = closeEvaluation(evaluation, pendingStep, failed ? sequence : undefined).finally(
          giveBack,
        );
        if (reason !== "cancelled" || failed) await closing;
      }
      yield stopToken === undefined
        ? { type: "finish", reason, usage }
        : { type: "finish", reason, stopToken, usage };
    } finally {
      start.dispose();
    }
  }

  health(): EngineHealth {
    return slotEngineHealth(this.#closing.signal.aborted, this.#pool.active, this.#lastStepMs);
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    // Running streams end with "cancelled" at their next step; waiting ones are refused.
    this.#closing.abort(new ServerError("shutting_down", "The engine is closed."));
    this.#pool.close();
    // A stream whose consumer stopped reading never resumes; do not wait for it forever.
    let timer: NodeJS.Timeout | undefined;
    const drained = Promise.allSettled([...this.#leases]);
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_DRAIN_MS)))]);
    clearTimeout(timer);
    await this.#context.dispose();
    await this.#model.dispose();
    await this.#llama.dispose();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
