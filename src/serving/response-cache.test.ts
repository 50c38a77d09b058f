import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../engines/engine.ts";
import { createServerMetrics } from "../metrics/prometheus.ts";
import { FakeClockForTest } from "../metrics/fake-clock-for-test.ts";
import { StatsCollector } from "../metrics/stats-collector.ts";
import type { AnswerEvent } from "./answer-events.ts";
import type { PreparedAnswer } from "./answer-pipeline.ts";
import { RequestTracker } from "./request-tracker.ts";
import {
  AnswerRecorder,
  answerCacheParts,
  ENTRY_OVERHEAD_BYTES,
  replayAnswer,
  ResponseCache,
  responseCacheKey,
  type CachedAnswer,
} from "./response-cache.ts";

const FINISH: AnswerEvent = {
  type: "finish",
  reason: "stop",
  usage: { promptTokens: 10, cachedTokens: 2, completionTokens: 3, reasoningTokens: 1 },
};
const ANSWER: CachedAnswer<AnswerEvent> = {
  events: [{ type: "content", text: "Hi" }, FINISH],
  cachedTokens: 2,
  completionTokens: 3,
  reasoningTokens: 1,
};

function tracker(): RequestTracker {
  const sinks = {
    stats: new StatsCollector(),
    metrics: createServerMetrics({ model_size: "tiny", gpu_mode: "cpu" }),
    logger: pino({ level: "silent" }),
  };
  return new RequestTracker(sinks, "req-1", false);
}

function generation(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    id: "req-1",
    promptTokens: [1, 2, 3],
    sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
    stopTokens: [200_002],
    maxTokens: 16,
    ...overrides,
  };
}

/** Enough of a PreparedAnswer for the key: the generation, the stop strings and the routed model. */
function prepared(g: GenerationRequest, stop: string[] = []): PreparedAnswer {
  return {
    generation: g,
    request: { stop },
    routed: {
      model: {
        id: "gpt-oss-tiny",
        engineType: "custom",
        engine: { info: { name: "native", modelSize: "tiny" } },
      },
    },
  } as unknown as PreparedAnswer;
}

const keyOf = (p: PreparedAnswer, who = "anonymous"): string => responseCacheKey(who, answerCacheParts(p));

describe("ResponseCache", () => {
  it("counts hits and misses, and keeps answers within its byte budget", () => {
    const cache = new ResponseCache({ enabled: true, maxBytes: 10_000, ttlMs: 60_000 });
    expect(cache.lookup("k")).toBeUndefined();
    expect(cache.store("k", ANSWER)).toBe(true);
    expect(cache.lookup("k")).toBe(ANSWER);
    const stats = cache.stats();
    expect(stats).toMatchObject({ enabled: true, hits: 1, misses: 1, entries: 1, max_bytes: 10_000 });
    expect(stats.bytes).toBe(1 + JSON.stringify(ANSWER.events).length + ENTRY_OVERHEAD_BYTES);
    expect(cache.store("big", { ...ANSWER, events: [{ type: "content", text: "x".repeat(10_000) }] })).toBe(
      false,
    );
  });

  it("forgets an answer after its TTL", () => {
    const clock = new FakeClockForTest();
    const cache = new ResponseCache({ enabled: true, maxBytes: 10_000, ttlMs: 1000, now: clock.now });
    cache.store("k", ANSWER);
    clock.advance(1000);
    expect(cache.lookup("k")).toBeUndefined();
    expect(cache.stats().entries).toBe(0);
  });

  it("stores nothing when disabled", () => {
    const cache = new ResponseCache({ enabled: false, maxBytes: 10_000, ttlMs: 1000 });
    expect(cache.store("k", ANSWER)).toBe(false);
    expect(cache.stats()).toMatchObject({ enabled: false, entries: 0, max_bytes: 0 });
  });
});

describe("response cache keys", () => {
  it("only greedy generations have one (a seed at temperature > 0 is sampled)", () => {
    expect(answerCacheParts(prepared(generation()))).toBeDefined();
    const sampled = (seed?: number) =>
      generation({ sampling: { ...generation().sampling, temperature: 0.7, seed } });
    expect(answerCacheParts(prepared(sampled()))).toBeUndefined();
    expect(answerCacheParts(prepared(sampled(7)))).toBeUndefined();
  });

  it("differ by who asked and by everything that decides the answer, not by request id or priority", () => {
    const base = keyOf(prepared(generation()));
    expect(keyOf(prepared(generation({ id: "other", priority: 3 })))).toBe(base);
    expect(keyOf(prepared(generation()), "key:1")).not.toBe(base);
    const changed: Partial<GenerationRequest>[] = [
      { promptTokens: [1, 2, 4] },
      { maxTokens: 17 },
      { stopTokens: [] },
      { grammar: { gbnf: "root ::= <[1]>" } },
      { logprobs: 2 },
      { minTokens: 2 },
      { sampling: { ...generation().sampling, logitBias: new Map([[5, 10]]) } },
      { sampling: { ...generation().sampling, topP: 0.5 } },
    ];
    for (const overrides of changed) {
      expect(keyOf(prepared(generation(overrides))), JSON.stringify(overrides)).not.toBe(base);
    }
    expect(keyOf(prepared(generation(), ["\n"]))).not.toBe(base);
  });
});

describe("recording and replaying an answer", () => {
  it("keeps an answer only once its finish went by, with the tracker's token counts", async () => {
    const t = tracker();
    const recorder = new AnswerRecorder<AnswerEvent>();
    async function* live(): AsyncGenerator<AnswerEvent> {
      yield { type: "content", text: "Hi" };
      await Promise.resolve(); // as an engine's events arrive: between turns of the event loop
      expect(recorder.answer(t)).toBeUndefined();
      t.completionTokens = 3;
      yield FINISH;
    }
    const seen: AnswerEvent[] = [];
    for await (const event of recorder.record(live())) seen.push(event);
    expect(recorder.answer(t)).toMatchObject({ events: seen, completionTokens: 3 });
  });

  it("replays the events, renewed by `fresh`, and gives the tracker the answer's counts", async () => {
    const t = tracker();
    const out: AnswerEvent[] = [];
    const fresh = (e: AnswerEvent): AnswerEvent => (e.type === "content" ? { ...e, text: "renewed" } : e);
    for await (const event of replayAnswer(ANSWER, t, fresh)) out.push(event);
    expect(out).toEqual([{ type: "content", text: "renewed" }, FINISH]);
    expect([t.cachedTokens, t.completionTokens, t.reasoningTokens]).toEqual([2, 3, 1]);
  });
});
