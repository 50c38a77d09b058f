/**
 * The contract every engine passes (architecture.md, "The engine interface"). Not a test file by
 * itself: an engine's test file calls `describeEngineContract` with a setup that builds the engine.
 *
 * The setup's `stopToken` must be a token the engine can emit; the suite forces it with a +100
 * logit bias (OpenAI: "values like 100 should result in exclusive selection of the relevant token"),
 * which also proves that logit_bias reaches the sampler. Elsewhere the stop token is banned with
 * -100 so runs reach their length deterministically.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine, GenerationEvent, GenerationRequest, SamplingParams } from "./engine.ts";

export interface EngineContractSetup {
  engine: Engine;
  /** A short prompt (a few dozen tokens at most keeps real engines quick). */
  prompt: number[];
  vocabSize: number;
  stopToken: number;
}

export interface CollectedRun {
  events: GenerationEvent[];
  tokens: number[];
  finish: Extract<GenerationEvent, { type: "finish" }>;
}

/** Drains one generation; `onTokens` runs after each tokens event (e.g. to abort mid-stream). */
export async function collectRun(
  engine: Engine,
  req: GenerationRequest,
  signal: AbortSignal = new AbortController().signal,
  onTokens?: (tokensSoFar: number) => void,
): Promise<CollectedRun> {
  const events: GenerationEvent[] = [];
  const tokens: number[] = [];
  for await (const event of engine.generate(req, signal)) {
    events.push(event);
    if (event.type === "tokens") {
      tokens.push(...event.tokens);
      onTokens?.(tokens.length);
    }
  }
  const last = events.at(-1);
  if (last?.type !== "finish")
    throw new Error(`stream ended without a finish event (${events.length} events)`);
  expect(events.filter((e) => e.type === "finish")).toHaveLength(1);
  return { events, tokens, finish: last };
}

let requestCounter = 0;

export function describeEngineContract(name: string, setup: () => Promise<EngineContractSetup>): void {
  describe(`engine contract: ${name}`, () => {
    let engine: Engine;
    let prompt: number[];
    let vocabSize: number;
    let stopToken: number;

    beforeAll(async () => {
      ({ engine, prompt, vocabSize, stopToken } = await setup());
    });

    afterAll(async () => {
      await engine.close();
    });

    const request = (
      overrides: Partial<Omit<GenerationRequest, "sampling">> & { sampling?: Partial<SamplingParams> } = {},
    ): GenerationRequest => {
      const { sampling, ...rest } = overrides;
      return {
        id: `contract-${++requestCounter}`,
        promptTokens: prompt,
        stopTokens: [stopToken],
        maxTokens: 4,
        ...rest,
        sampling: {
          temperature: 0,
          topP: 1,
          presencePenalty: 0,
          frequencyPenalty: 0,
          logitBias: new Map([[stopToken, -100]]),
          ...sampling,
        },
      };
    };
    const forceStop = (): Partial<SamplingParams> => ({ logitBias: new Map([[stopToken, 100]]) });

    it("describes itself", () => {
      expect(engine.info.name).not.toBe("");
      expect(engine.info.maxSequences).toBeGreaterThanOrEqual(1);
      expect(engine.info.contextSize).toBeGreaterThan(prompt.length);
      expect(engine.health().status).toBe("ready");
    });

    it("streams tokens from the vocabulary and ends with one finish event", async () => {
      const run = await collectRun(engine, request({ maxTokens: 3 }));
      const tokenEvents = run.events.filter((e) => e.type === "tokens");
      expect(tokenEvents.length).toBeGreaterThanOrEqual(1);
      for (const token of run.tokens) {
        expect(Number.isInteger(token) && token >= 0 && token < vocabSize).toBe(true);
      }
    });

    it("fills the context exactly: a prompt of context - n tokens gets n tokens, context - 1 gets one", async () => {
      const context = engine.info.contextSize;
      const long = (length: number): number[] =>
        Array.from({ length }, (_, i) => prompt[i % prompt.length] ?? 0);
      for (const n of [6, 1]) {
        const run = await collectRun(engine, request({ promptTokens: long(context - n), maxTokens: n }));
        expect(run.finish.reason).toBe("length");
        expect(run.tokens).toHaveLength(n);
      }
    });

    it("honours maxTokens with finish 'length' and the exact completion count", async () => {
      const run = await collectRun(engine, request({ maxTokens: 5 }));
      expect(run.finish.reason).toBe("length");
      expect(run.tokens).toHaveLength(5);
      expect(run.finish.usage.completionTokens).toBe(5);
      expect(run.finish.stopToken).toBeUndefined();
    });

    it("stops on a stop token (forced by logit bias +100) and reports it", async () => {
      const run = await collectRun(engine, request({ maxTokens: 6, sampling: forceStop() }));
      expect(run.finish.reason).toBe("stop");
      expect(run.finish.stopToken).toBe(stopToken);
      expect(run.tokens).toEqual([stopToken]);
      expect(run.finish.usage.completionTokens).toBe(1);
    });

    it("keeps generating through stop tokens with ignoreStopTokens", async () => {
      const run = await collectRun(
        engine,
        request({ maxTokens: 4, ignoreStopTokens: true, sampling: forceStop() }),
      );
      expect(run.finish.reason).toBe("length");
      expect(run.tokens).toEqual([stopToken, stopToken, stopToken, stopToken]);
    });

    it("does not stop before minTokens, then stops at the next stop token", async () => {
      const run = await collectRun(engine, request({ maxTokens: 10, minTokens: 3, sampling: forceStop() }));
      expect(run.finish.reason).toBe("stop");
      expect(run.tokens).toEqual([stopToken, stopToken, stopToken]);
      expect(run.finish.usage.completionTokens).toBe(3);
    });

    it("reports usage: prompt length, cached within the prompt, completion = tokens yielded", async () => {
      const run = await collectRun(engine, request({ maxTokens: 3 }));
      const { usage } = run.finish;
      expect(usage.promptTokens).toBe(prompt.length);
      expect(usage.cachedTokens).toBeGreaterThanOrEqual(0);
      expect(usage.cachedTokens).toBeLessThan(prompt.length);
      expect(usage.completionTokens).toBe(run.tokens.length);
    });

    it("is deterministic at temperature 0", async () => {
      const a = await collectRun(engine, request({ maxTokens: 6 }));
      const b = await collectRun(engine, request({ maxTokens: 6 }));
      expect(b.tokens).toEqual(a.tokens);
    });

    it("reproduces with the same seed at temperature 1 and differs with another seed", async () => {
      const sampled = (seed: number): GenerationRequest =>
        request({ maxTokens: 8, sampling: { temperature: 1, seed } });
      const a = await collectRun(engine, sampled(1234));
      const b = await collectRun(engine, sampled(1234));
      const c = await collectRun(engine, sampled(98765));
      expect(b.tokens).toEqual(a.tokens);
      expect(c.tokens).not.toEqual(a.tokens);
    });

    it("reports cached prompt tokens for a repeated prompt when it has a prefix cache", async () => {
      await collectRun(engine, request({ maxTokens: 2 }));
      const again = await collectRun(engine, request({ maxTokens: 2 }));
      if (engine.info.capabilities.prefixCache) {
        expect(again.finish.usage.cachedTokens).toBeGreaterThan(0);
        expect(again.finish.usage.cachedTokens).toBeLessThan(prompt.length);
      } else {
        expect(again.finish.usage.cachedTokens).toBe(0);
      }
    });

    it("ends with 'cancelled' right after an abort mid-stream, then serves a new request", async () => {
      const controller = new AbortController();
      let tokensAtAbort = -1;
      const run = await collectRun(
        engine,
        request({ maxTokens: 200, ignoreStopTokens: true }),
        controller.signal,
        (tokensSoFar) => {
          if (tokensSoFar >= 2 && tokensAtAbort < 0) {
            tokensAtAbort = tokensSoFar;
            controller.abort();
          }
        },
      );
      expect(run.finish.reason).toBe("cancelled");
      // No tokens after the abort: the stream ends at once instead of running to maxTokens.
      expect(run.tokens).toHaveLength(tokensAtAbort);
      expect(run.finish.usage.completionTokens).toBe(tokensAtAbort);

      const next = await collectRun(engine, request({ maxTokens: 3 }));
      expect(next.finish.reason).toBe("length");
    });

    it("ends with 'cancelled' and no tokens when the signal is already aborted", async () => {
      const run = await collectRun(engine, request({ maxTokens: 5 }), AbortSignal.abort());
      expect(run.finish.reason).toBe("cancelled");
      expect(run.tokens).toEqual([]);
      expect(run.finish.usage.completionTokens).toBe(0);
    });

    it("frees every sequence on abort: maxSequences aborted, then maxSequences new ones run", async () => {
      const n = engine.info.maxSequences;
      const controllers = Array.from({ length: n }, () => new AbortController());
      let streaming = 0;
      let allStreaming!: () => void;
      const allStarted = new Promise<void>((resolve) => (allStreaming = resolve));
      const runs = controllers.map((controller) => {
        let started = false;
        return collectRun(
          engine,
          request({ maxTokens: 500, ignoreStopTokens: true }),
          controller.signal,
          () => {
            if (started) return;
            started = true;
            if (++streaming === n) allStreaming();
          },
        );
      });
      await allStarted;
      expect(engine.health().activeSequences).toBe(n);
      for (const controller of controllers) controller.abort();
      for (const run of await Promise.all(runs)) expect(run.finish.reason).toBe("cancelled");

      const fresh = await Promise.all(controllers.map(() => collectRun(engine, request({ maxTokens: 3 }))));
      for (const run of fresh) {
        expect(run.finish.reason).toBe("length");
        expect(run.tokens).toHaveLength(3);
      }
    });

    it("reports logprobs only when asked, and only with the capability (one entry per token)", async () => {
      const plain = await collectRun(engine, request({ maxTokens: 2 }));
      for (const e of plain.events) if (e.type === "tokens") expect(e.logprobs).toBeUndefined();
      const asking = request({ maxTokens: 3, logprobs: 2 });
      if (engine.info.capabilities.logprobs !== true) {
        await expect(collectRun(engine, asking)).rejects.toMatchObject({ code: "engine_error" });
        return;
      }
      const run = await collectRun(engine, asking);
      for (const e of run.events) {
        if (e.type !== "tokens") continue;
        expect(e.logprobs).toHaveLength(e.tokens.length);
        e.tokens.forEach((token, i) => {
          const entry = e.logprobs![i]!;
          expect(entry.logprob).toBeLessThanOrEqual(0);
          expect(entry.top).toHaveLength(2);
          expect(entry.top[0]!.logprob).toBeGreaterThanOrEqual(entry.top[1]!.logprob);
          // Greedy with the stop token banned: the top token wins unless the ban hit it.
          if (entry.top[0]!.token !== stopToken) expect(token).toBe(entry.top[0]!.token);
        });
      }
    });

    it("completes maxSequences concurrent requests", async () => {
      const n = engine.info.maxSequences;
      const runs = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          collectRun(engine, request({ maxTokens: 3 + (i % 3), sampling: { temperature: 1, seed: i } })),
        ),
      );
      runs.forEach((run, i) => {
        expect(run.finish.reason).toBe("length");
        expect(run.tokens).toHaveLength(3 + (i % 3));
        expect(run.finish.usage.promptTokens).toBe(prompt.length);
      });
      expect(engine.health().activeSequences).toBe(0);
    });

    it("closes: close() resolves, is idempotent, and later requests are refused", async () => {
      await engine.close();
      await engine.close();
      await expect(collectRun(engine, request({ maxTokens: 2 }))).rejects.toThrow();
    });
  });
}
