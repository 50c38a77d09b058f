/**
 * FakeEngine: a scripted engine for fast HTTP tests and HTTP-layer benchmarks. It emits the tokens
 * its script returns for a request (built by the caller, e.g. with the harmony tokenizer) and behaves
 * like a real engine at its edges: maxTokens, stop tokens, abort, usage, a bounded number of
 * sequences, and an emulated prefix cache.
 *
 * Its model of sampling: the script IS the model's output. A script may read `req.sampling` (seed,
 * temperature) to model sampling itself. Of logit_bias only one case is modelled: a token with bias
 * >= 100 dominates every logit, so it is emitted at every step (as greedy decoding with that bias
 * would on a real model). Other biases are ignored.
 *
 * When the script runs out: with ignoreStopTokens it repeats from the start (benchmarks want a fixed
 * output length), otherwise generation ends with reason "stop" and no stop token (an end-of-text
 * token outside `stopTokens`, as a real model may emit).
 *
 * Grammars (capability `grammar`, on by default): the script is taken to be what the grammar lets
 * the model write; the fake does not check it. It keeps every grammar it was given
 * (the latest, in `grammarsSeen`) so tests can assert what serving asked for, and applies the one rule a grammar
 * changes at the engine's edge: a stop token always ends the generation (engine.ts).
 *
 * Logprobs (capability `logprobs`, on by default): deterministic ones from `fakeLogprob`, in which
 * the emitted token is always the most likely one, so tests can predict every number.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  FinishReason,
  GenerationEvent,
  GenerationGrammar,
  GenerationRequest,
  TokenLogprob,
} from "../engine.ts";
import { ServerError } from "../../errors/server-error.ts";
import { beginSlotGeneration, slotEngineHealth } from "../generation-limits.ts";
import { abortableDelay } from "../linked-signal.ts";
import { SequencePool } from "../sequence-pool.ts";

export interface FakeEngineOptions {
  modelId: string;
  /** The tokens to emit for a request (before maxTokens, stop tokens and abort apply). */
  script: (req: GenerationRequest) => readonly number[];
  /** Delay before each token; 0 emits as fast as the consumer reads. */
  tokenDelayMs?: number;
  maxSequences?: number;
  /** Context per sequence, in tokens. */
  contextSize?: number;
  /** Reported in info.modelSize; defaults to "tiny". */
  modelSize?: string;
  /** Tokens per `tokens` event (real engines send 1; larger values stress fewer, bigger chunks). */
  tokensPerEvent?: number;
  /** Report `capabilities.grammar` (default true), as an engine that can constrain output. */
  grammar?: boolean;
  /** Report `capabilities.logprobs` (default true). */
  logprobs?: boolean;
  /**
   * A failure switch: a request for which this returns a message fails with engine_error before
   * its first token, as a broken engine's would (supervision tests drive it through a worker).
   */
  failRequest?: (req: GenerationRequest) => string | undefined;
}

/**
 * `--engine fake` fails the requests whose id starts with this (an X-Request-Id a test sends), so
 * tests can make an engine worker fail request after request. The fake engine never serves a model.
 */
export const FAKE_FAILURE_ID_PREFIX = "fake-engine-fail:";

/** With no delay, hand the event loop back this often so sockets and timers keep being served. */
const EVENTS_BETWEEN_BREATHS = 64;

interface FakeSlot {
  tokens: readonly number[];
}

export class FakeEngine implements Engine {
  readonly info: EngineInfo;
  readonly #script: (req: GenerationRequest) => readonly number[];
  readonly #tokenDelayMs: number;
  readonly #tokensPerEvent: number;
  readonly #failRequest: FakeEngineOptions["failRequest"];
  readonly #pool: SequencePool<FakeSlot>;
  readonly #closing = new AbortController();
  /** The grammars of the latest requests (at most 64), oldest first; undefined for unconstrained ones. */
  readonly grammarsSeen: (GenerationGrammar | undefined)[] = [];

  constructor(options: FakeEngineOptions) {
    const maxSequences = options.maxSequences ?? 16;
    this.info = {
      name: "fake",
      modelId: options.modelId,
      modelSize: options.modelSize ?? "tiny",
      contextSize: options.contextSize ?? 8192,
      maxSequences,
      gpuMode: "cpu",
      randomWeights: true,
      capabilities: {
        prefixCache: true,
        grammar: options.grammar ?? true,
        logprobs: options.logprobs ?? true,
      },
    };
    this.#script = options.script;
    this.#tokenDelayMs = options.tokenDelayMs ?? 0;
    this.#tokensPerEvent = Math.max(1, options.tokensPerEvent ?? 1);
    this.#failRequest = options.failRequest;
    const slots = Array.from({ length: maxSequences }, (): FakeSlot => ({ tokens: [] }));
    this.#pool = new SequencePool(slots, (slot) => slot.tokens);
  }

  async *generate(req: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    if (req.grammar !== undefined && !this.info.capabilities.grammar) {
      throw new ServerError("engine_error", "This engine cannot constrain output with a grammar.");
    }
    const failure = this.#closing.signal.aborted ? undefined : this.#failRequest?.(req);
    if (failure !== undefined) throw new ServerError("engine_error", failure);
    const start = await beginSlotGeneration(req, signal, {
      info: this.info,
      closing: this.#closing.signal,
      pool: this.#pool,
    });
    const { stop, budget, usage } = start;
    try {
      this.grammarsSeen.push(req.grammar);
      // Bounded: `--engine fake` serves benchmarks for hours.
      if (this.grammarsSeen.length > 64) this.grammarsSeen.shift();
      if (start.lease === undefined) {
        yield { type: "finish", reason: "cancelled", usage };
        return;
      }
      const slot = start.lease.slot;

      const generated: number[] = [];
      let reason: FinishReason = "length";
      let stopToken: number | undefined;
      try {
        const script = this.#script(req);
        const forced = forcedToken(req.sampling.logitBias);
        const constrained = req.grammar !== undefined;
        const ignoreStops = req.ignoreStopTokens === true && !constrained;
        const stopTokens = new Set(ignoreStops ? [] : req.stopTokens);
        const minTokens = constrained ? 0 : (req.minTokens ?? 0);
        const cycle = ignoreStops || minTokens > 0;
        let events = 0;
        while (generated.length < budget) {
          if (stop.aborted) {
            reason = "cancelled";
            break;
          }
          const batch: number[] = [];
          let exhausted = false;
          while (batch.length < this.#tokensPerEvent && generated.length + batch.length < budget) {
            const token = forced ?? scriptToken(script, generated.length + batch.length, cycle);
            if (token === undefined) {
              exhausted = true;
              break;
            }
            batch.push(token);
            if (stopTokens.has(token) && generated.length + batch.length >= minTokens) {
              stopToken = token;
              break;
            }
          }
          if (this.#tokenDelayMs > 0 && batch.length > 0) {
            await abortableDelay(this.#tokenDelayMs * batch.length, stop);
            if (stop.aborted) {
              reason = "cancelled";
              break;
            }
          }
          if (batch.length > 0) {
            const start = generated.length;
            generated.push(...batch);
            usage.completionTokens = generated.length;
            const topN = req.logprobs;
            yield topN === undefined
              ? { type: "tokens", tokens: batch }
              : {
                  type: "tokens",
                  tokens: batch,
                  logprobs: batch.map((t, i) => fakeLogprob(t, start + i, topN)),
                };
          }
          if (stopToken !== undefined || exhausted) {
            reason = "stop";
            break;
          }
          if (this.#tokenDelayMs === 0 && ++events % EVENTS_BETWEEN_BREATHS === 0) await yieldToEventLoop();
        }
        if (reason === "length" && stop.aborted) reason = "cancelled";
      } finally {
        // The slot keeps prompt + output, as a KV cache would, for the next request's prefix.
        slot.tokens = [...req.promptTokens, ...generated];
        this.#pool.release(slot);
      }
      yield stopToken === undefined
        ? { type: "finish", reason, usage }
        : { type: "finish", reason, stopToken, usage };
    } finally {
      start.dispose();
    }
  }

  health(): EngineHealth {
    return slotEngineHealth(this.#closing.signal.aborted, this.#pool.active, this.#tokenDelayMs);
  }

  close(): Promise<void> {
    // Running streams end with "cancelled" at their next step; waiting ones are rejected.
    this.#closing.abort(new ServerError("shutting_down", "The engine is closed."));
    this.#pool.close();
    return Promise.resolve();
  }
}

const FAKE_VOCAB_SIZE = 201_088;

/**
 * The fake's logprobs for `token` generated at `position`: the token is the most likely one, with
 * logprob -(1 + (token + position) % 10) / 10; alternative k (1..topN-1) is token + k (mod the
 * vocabulary) at k less.
 */
export function fakeLogprob(token: number, position: number, topN: number): TokenLogprob {
  const logprob = -(1 + ((token + position) % 10)) / 10;
  const top = Array.from({ length: topN }, (_, k) => ({
    token: k === 0 ? token : (token + k) % FAKE_VOCAB_SIZE,
    logprob: logprob - k,
  }));
  return { logprob, top };
}

/** The token whose bias is at least +100 (the highest, if several): it wins every step. */
function forcedToken(logitBias: ReadonlyMap<number, number>): number | undefined {
  let best: number | undefined;
  let bestBias = 100;
  for (const [token, bias] of logitBias) {
    if (bias >= bestBias) {
      best = token;
      bestBias = bias;
    }
  }
  return best;
}

function scriptToken(script: readonly number[], index: number, cycle: boolean): number | undefined {
  if (index < script.length) return script[index];
  if (!cycle || script.length === 0) return undefined;
  return script[index % script.length];
}
