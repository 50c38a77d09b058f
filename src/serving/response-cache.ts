/**
 * The response cache (`--response-cache on`): a deterministic request that renders to exactly what
 * an earlier one did is answered with that one's answer, without the queue or the engine.
 *
 * What is cached is the answer's event sequence (answer-events.ts's AnswerEvents, or the
 * completions pipeline's events), the finish included, after prepare: every wire renders from those
 * events, so a cached answer serves Chat and Responses alike, as JSON or as a stream, and a stream
 * replays as a stream with the same events. The key (sha256) is everything those events depend on
 * (`answerCacheParts`, `completionCacheParts`: the rendered prompt tokens, sampling, stop tokens and
 * strings, grammar and output spec, max tokens, logprobs, the model and its engine) plus who asked
 * (an API key's index, never the key): a cached answer never crosses API keys.
 *
 * Deterministic means greedy (temperature 0, the profile's default included). A seed at a higher
 * temperature is not enough here: on llama.cpp a seeded draw depends on what else runs in the same
 * decode step (measured on the tiny model, temperature 1, seed 7: the same 60 tokens alone every
 * time, alone and beside three other sequences first differ at token 36; greedy was identical;
 * engines/native/tiny-engine-support.ts explains the rounding), so caching it would pin one of
 * several answers rather than repeat the answer.
 *
 * Only answers that finished are stored (not cancelled, failed, or cut by a client leaving), in an
 * ExpiringLru (LRU under a byte budget, each entry with a TTL). Counted: `hits` and `misses`
 * (lookups that found nothing; a `Cache-Control: no-cache` request does not look).
 */
import { createHash } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { GenerationRequest } from "../engines/engine.ts";
import type { ResponseCacheStats } from "../metrics/stats-types.ts";
import type { PreparedAnswer } from "./answer-pipeline.ts";
import type { PreparedCompletion } from "./completions-pipeline.ts";
import { ExpiringLru } from "./expiring-lru.ts";
import type { RequestTracker } from "./request-tracker.ts";

/** A finished answer as it is kept: its events and what its request record said of its tokens. */
export interface CachedAnswer<E = unknown> {
  /** Every event the pipeline yielded, in order, the finish last. */
  events: readonly E[];
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
}

export interface ResponseCacheOptions {
  enabled: boolean;
  /** Total size budget (JSON length of the events, plus ENTRY_OVERHEAD_BYTES each). */
  maxBytes: number;
  ttlMs: number;
  now?: () => number;
}

/** Counted beside an entry's events (its key, the entry and its arrays), so tiny answers are not free. */
export const ENTRY_OVERHEAD_BYTES = 256;

export class ResponseCache {
  readonly enabled: boolean;
  readonly #entries: ExpiringLru<CachedAnswer>;
  #hits = 0;
  #misses = 0;

  constructor(options: ResponseCacheOptions) {
    this.enabled = options.enabled && options.maxBytes > 0;
    this.#entries = new ExpiringLru<CachedAnswer>({
      maxBytes: options.maxBytes,
      ttlMs: options.ttlMs,
      sizeOf: (key, value) => key.length + JSON.stringify(value.events).length + ENTRY_OVERHEAD_BYTES,
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
  }

  /** The answer stored under `key`, counted as a hit or a miss. */
  lookup<E>(key: string): CachedAnswer<E> | undefined {
    const found = this.enabled ? this.#entries.get(key) : undefined;
    if (found === undefined) this.#misses += 1;
    else this.#hits += 1;
    // Keys carry the pipeline they belong to (`kind`), so what is found has that pipeline's events.
    return found as CachedAnswer<E> | undefined;
  }

  /** Keeps a finished answer; false when disabled or larger than the whole budget. */
  store(key: string, answer: CachedAnswer): boolean {
    if (!this.enabled) return false;
    return this.#entries.set(key, answer);
  }

  /** `/stats.cache`. */
  stats(): ResponseCacheStats {
    return {
      enabled: this.enabled,
      hits: this.#hits,
      misses: this.#misses,
      entries: this.#entries.size,
      bytes: this.#entries.bytes,
      max_bytes: this.enabled ? this.#entries.maxBytes : 0,
    };
  }
}

/** The cache key: a sha256 of who asked (`identity`) and what decides the answer (`parts`). */
export function responseCacheKey(identity: string, parts: unknown): string {
  return createHash("sha256").update(JSON.stringify({ identity, parts })).digest("hex");
}

/** Whether a prepared generation has one answer: greedy decoding (see the file comment). */
export function isDeterministic(generation: GenerationRequest): boolean {
  return generation.sampling.temperature === 0;
}

/**
 * What of a GenerationRequest decides its tokens, as plain JSON: not its id or priority. The logit
 * bias is a Map (JSON would write `{}`), so it goes in as sorted pairs.
 */
function generationParts(g: GenerationRequest): unknown {
  const bias = [...g.sampling.logitBias].sort((a, b) => a[0] - b[0]);
  return {
    prompt: g.promptTokens,
    sampling: { ...g.sampling, logitBias: bias },
    stopTokens: g.stopTokens,
    maxTokens: g.maxTokens,
    ignoreStopTokens: g.ignoreStopTokens ?? false,
    minTokens: g.minTokens ?? 0,
    grammar: g.grammar?.gbnf ?? null,
    output: g.output ?? null,
    logprobs: g.logprobs ?? null,
    conversation: g.conversation ?? null,
  };
}

/** The model and the engine that serve it: another model or engine type is another answer. */
function engineParts(routed: PreparedAnswer["routed"]): unknown {
  const info = routed.model.engine.info;
  return { model: routed.model.id, engine: info.name, size: info.modelSize, type: routed.model.engineType };
}

/**
 * What decides a Chat or Responses answer's events (answer-events.ts reads the generation and the
 * stop strings); undefined when it is sampled and so never cached.
 */
export function answerCacheParts(prepared: PreparedAnswer): unknown {
  if (!isDeterministic(prepared.generation)) return undefined;
  return {
    kind: "answer",
    engine: engineParts(prepared.routed),
    generation: generationParts(prepared.generation),
    stop: prepared.request.stop,
  };
}

/** What decides a legacy completion's events (completions-pipeline.ts); undefined when sampled. */
export function completionCacheParts(prepared: PreparedCompletion): unknown {
  if (!isDeterministic(prepared.generation)) return undefined;
  const request = prepared.request;
  return {
    kind: "completion",
    engine: engineParts(prepared.routed),
    generation: generationParts(prepared.generation),
    stop: request.stop,
    echo: request.echo ? prepared.promptText : null,
    skipSpecialTokens: request.skipSpecialTokens,
  };
}

/**
 * Keeps the events a live answer yields, to store them once it finished (`answer()`, undefined
 * until the finish went by).
 */
export class AnswerRecorder<E extends { type: string }> {
  readonly #events: E[] = [];
  #finished = false;

  async *record(events: AsyncIterable<E>): AsyncGenerator<E> {
    for await (const event of events) {
      this.#events.push(event);
      if (event.type === "finish") this.#finished = true;
      yield event;
    }
  }

  /** The finished answer with the tracker's token counts, or undefined when it did not finish. */
  answer(tracker: RequestTracker): CachedAnswer<E> | undefined {
    if (!this.#finished) return undefined;
    return {
      events: this.#events,
      cachedTokens: tracker.cachedTokens,
      completionTokens: tracker.completionTokens,
      reasoningTokens: tracker.reasoningTokens,
    };
  }
}

/** A long replay hands the event loop back this often, so other requests' sockets are served. */
const EVENTS_BETWEEN_BREATHS = 256;

/**
 * A cached answer's events for a hit, as the pipeline yielded them the first time (`fresh` renews
 * what must not repeat, a tool call's id); the tracker gets its first token at once and the token
 * counts the answer had, for the log line.
 */
export async function* replayAnswer<E>(
  answer: CachedAnswer<E>,
  tracker: RequestTracker,
  fresh: (event: E) => E = (event) => event,
): AsyncGenerator<E> {
  tracker.firstToken();
  tracker.cachedTokens = answer.cachedTokens;
  tracker.completionTokens = answer.completionTokens;
  tracker.reasoningTokens = answer.reasoningTokens;
  let sent = 0;
  for (const event of answer.events) {
    yield fresh(event);
    if (++sent % EVENTS_BETWEEN_BREATHS === 0) await yieldToEventLoop();
  }
}
