import { describe, expect, it } from "vitest";
import { collectRun } from "./engine.contract.ts";
import type { EngineHealth, GenerationEvent, GenerationRequest } from "./engine.ts";
import { FakeEngine } from "./fake/fake-engine.ts";
import {
  AFFINITY_MIN_BLOCKS,
  BALANCE_SLACK,
  PREFIX_BLOCK,
  prefixHashes,
  ReplicatedEngine,
} from "./replicated-engine.ts";
import { engineRestartedError } from "./worker/worker-engine.ts";
import { ServerError } from "../errors/server-error.ts";

const request = (promptTokens: number[], overrides: Partial<GenerationRequest> = {}): GenerationRequest => ({
  id: "r",
  promptTokens,
  stopTokens: [],
  maxTokens: 4,
  sampling: { temperature: 0, topP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
  ...overrides,
});
const prompt = (seed: number, blocks: number): number[] =>
  Array.from({ length: blocks * PREFIX_BLOCK + 3 }, (_, i) => (seed * 7919 + i) % 50_000);

/** A FakeEngine (test double) that counts what it was given and can be made unhealthy or dying. */
class CountingEngine extends FakeEngine {
  served = 0;
  status: EngineHealth["status"] = "ready";
  dieBeforeFirstToken = false;
  /** Fails with an error that is not retryable (the request itself is bad, say). */
  failNotRetryable = false;
  /** What health() says of the worker's restarts (a restarted worker's cache starts empty). */
  restarts = 0;
  constructor(maxSequences = 2, tokenDelayMs = 0) {
    super({ modelId: "m", script: () => [1, 2, 3, 4, 5, 6], maxSequences, tokenDelayMs });
  }
  override async *generate(req: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    this.served += 1;
    if (this.dieBeforeFirstToken) throw engineRestartedError("worker died (test double)", true);
    if (this.failNotRetryable) throw new ServerError("engine_error", "failed (test double)");
    yield* super.generate(req, signal);
  }
  override health(): EngineHealth {
    return {
      ...super.health(),
      status: this.status,
      worker: { pid: null, restarts: this.restarts },
    };
  }
}

describe("ReplicatedEngine", () => {
  it("adds up the replicas' sequences and reports each replica's health", () => {
    const engine = new ReplicatedEngine([new CountingEngine(2), new CountingEngine(3)]);
    expect(engine.info.maxSequences).toBe(5);
    expect(engine.health().replicas).toHaveLength(2);
  });

  it("sends a prompt back to the replica that served its prefix (affinity), new prompts to the least loaded", async () => {
    const [a, b] = [new CountingEngine(), new CountingEngine()];
    const engine = new ReplicatedEngine([a, b]);
    const conversation = prompt(1, 4);
    await collectRun(engine, request(conversation));
    const first = a.served === 1 ? a : b;
    // The same conversation, one turn longer: the replica holding its prefix, five times over.
    for (let turn = 0; turn < 5; turn++) {
      await collectRun(engine, request([...conversation, 9, 9, 9, turn]));
    }
    expect(first.served).toBe(6);
    // A different prompt while the first replica is busy goes to the other one.
    const busy = collectRun(engine, request(conversation, { maxTokens: 6 }));
    await collectRun(engine, request(prompt(2, 4)));
    await busy;
    expect(a.served + b.served).toBe(8);
    expect((first === a ? b : a).served).toBeGreaterThanOrEqual(1);
  });

  it("shares new prompts by weight: a replica of weight 3 takes three times the outstanding tokens", async () => {
    const [a, b] = [new CountingEngine(8, 5), new CountingEngine(8, 5)];
    const engine = new ReplicatedEngine([a, b], [3, 1]);
    // Eight different short prompts at once (under one 64-token block: no affinity).
    await Promise.all(Array.from({ length: 8 }, (_, i) => collectRun(engine, request([i, i + 1, i + 2]))));
    expect([a.served, b.served]).toEqual([6, 2]);
  });

  it("spills over when the affine replica is full", async () => {
    const [a, b] = [new CountingEngine(1, 5), new CountingEngine(1, 5)];
    const engine = new ReplicatedEngine([a, b]);
    const p = prompt(3, AFFINITY_MIN_BLOCKS);
    await collectRun(engine, request(p));
    const home = a.served === 1 ? a : b;
    const other = home === a ? b : a;
    const both = await Promise.all([collectRun(engine, request(p)), collectRun(engine, request(p))]);
    expect(both.every((r) => r.finish.reason === "length")).toBe(true);
    expect(home.served).toBe(2);
    expect(other.served).toBe(1);
  });

  it("skips a replica that is not ready, and fails over when one dies before its first token", async () => {
    const [a, b] = [new CountingEngine(), new CountingEngine()];
    const engine = new ReplicatedEngine([a, b]);
    a.status = "loading";
    await collectRun(engine, request(prompt(4, AFFINITY_MIN_BLOCKS)));
    expect([a.served, b.served]).toEqual([0, 1]);
    expect(engine.health()).toMatchObject({
      status: "ready",
      detail: expect.stringMatching(/replica 0 loading/),
    });

    a.status = "ready";
    b.dieBeforeFirstToken = true;
    const p = prompt(4, AFFINITY_MIN_BLOCKS); // b's prefix: b is chosen first, dies, a runs it
    const run = await collectRun(engine, request(p));
    expect(run.finish.reason).toBe("length");
    expect([a.served, b.served]).toEqual([1, 2]);
  });

  it("never runs a request again elsewhere after an error that is not retryable", async () => {
    const [a, b] = [new CountingEngine(), new CountingEngine()];
    const engine = new ReplicatedEngine([a, b]);
    a.failNotRetryable = b.failNotRetryable = true;
    await expect(collectRun(engine, request(prompt(5, 1)))).rejects.toMatchObject({ code: "engine_error" });
    expect(a.served + b.served).toBe(1);
  });

  it("counts warm prompts as held by every replica, from the start and after a restart", async () => {
    const [a, b] = [new CountingEngine(), new CountingEngine()];
    const system = prompt(8, AFFINITY_MIN_BLOCKS);
    const engine = new ReplicatedEngine([a, b], [], [system]);
    const hits = (): number[] => engine.health().replicas!.map((r) => r.routing.affinityHits);
    await collectRun(engine, request([...system, 1, 2]));
    expect(hits()).toEqual([1, 0]);
    // Two at once: the second goes to the less loaded replica, which holds the warm prefix too.
    await Promise.all([
      collectRun(engine, request([...system, 3, 4])),
      collectRun(engine, request([...system, 5, 6])),
    ]);
    expect(hits()).toEqual([2, 1]);
    // Both restarted: their learned prefixes are forgotten, the warm one is not.
    a.restarts = b.restarts = 1;
    await collectRun(engine, request([...system, 7, 8]));
    expect(hits().reduce((x, y) => x + y, 0)).toBe(4);
    await collectRun(engine, request(prompt(9, 3)));
    expect(hits().reduce((x, y) => x + y, 0)).toBe(4);
  });

  it("a shared prefix shorter than AFFINITY_MIN_BLOCKS (harmony's 64-token system header) is no affinity: load decides", async () => {
    const replicas = Array.from({ length: 4 }, () => new CountingEngine(16, 5));
    const engine = new ReplicatedEngine(replicas);
    const header = prompt(10, 1).slice(0, PREFIX_BLOCK);
    // 16 streams at once, each the same header and then its own 200 tokens: four a replica (all
    // sixteen went to the replica that served the header first).
    await Promise.all(
      Array.from({ length: 16 }, (_, i) => collectRun(engine, request([...header, ...prompt(20 + i, 3)]))),
    );
    expect(replicas.map((r) => r.served)).toEqual([4, 4, 4, 4]);
    expect(engine.health().replicas!.every((r) => r.routing.affinityHits === 0)).toBe(true);
  });

  it("a long shared system prompt spreads over the replicas once the one holding it is busier by the slack", async () => {
    const [a, b] = [new CountingEngine(16, 5), new CountingEngine(16, 5)];
    const engine = new ReplicatedEngine([a, b]);
    const system = prompt(11, 8); // 512 tokens every request shares
    await collectRun(engine, request([...system, 1]));
    // 16 at once: the holder takes them until it runs `slack` more than the other, which then holds
    // the prefix too, and the two share the rest.
    await Promise.all(
      Array.from({ length: 16 }, (_, i) => collectRun(engine, request([...system, ...prompt(30 + i, 1)]))),
    );
    const slack = Math.floor(16 * BALANCE_SLACK);
    expect(a.served + b.served).toBe(17);
    expect(Math.abs(a.served - 1 - b.served)).toBeLessThanOrEqual(slack);
    expect(b.served).toBeGreaterThanOrEqual(8 - slack);
    const routing = engine.health().replicas!.map((r) => r.routing);
    expect(routing[0]!.affinityHits + routing[1]!.affinityHits).toBeGreaterThanOrEqual(14);
  });

  it("keeps a conversation on its replica while that one is within the slack of the least busy", async () => {
    const [a, b] = [new CountingEngine(8, 5), new CountingEngine(8, 5)];
    const engine = new ReplicatedEngine([a, b]);
    const conversation = prompt(12, AFFINITY_MIN_BLOCKS + 2);
    await collectRun(engine, request(conversation));
    const home = a.served === 1 ? a : b;
    // Its next turn while the home replica runs one other request more than the other one: kept.
    const other = collectRun(engine, request(prompt(13, 1), { maxTokens: 6 }));
    await collectRun(engine, request([...conversation, 5, 6, 7]));
    await other;
    expect(home.served).toBeGreaterThanOrEqual(2);
    expect(engine.health().replicas!.reduce((n, r) => n + r.routing.affinityHits, 0)).toBe(1);
  });

  it("prefix hashes are per block and depend on every token before them", () => {
    const p = prompt(5, 3);
    const q = [...p];
    q[PREFIX_BLOCK + 1] = 1;
    const [hp, hq] = [prefixHashes(p), prefixHashes(q)];
    expect(hp).toHaveLength(3);
    expect(hq[0]).toBe(hp[0]);
    expect(hq[1]).not.toBe(hp[1]);
    expect(hq[2]).not.toBe(hp[2]);
  });

  it("counts per replica: requests, completion tokens, affinity hits, spill-overs, failovers", async () => {
    const [a, b] = [new CountingEngine(1, 5), new CountingEngine(1, 5)];
    const engine = new ReplicatedEngine([a, b]);
    const routing = (): unknown[] => engine.health().replicas!.map((r) => r.routing);
    const p = prompt(6, AFFINITY_MIN_BLOCKS);
    await collectRun(engine, request(p)); // a new prompt: least loaded, no affinity
    expect(a.served).toBe(1); // equal load: the first replica
    const [home, other] = [0, 1];
    await collectRun(engine, request(p)); // its prefix: an affinity hit
    // Two at once: the first takes the home replica (affinity), the second finds it full and spills.
    await Promise.all([collectRun(engine, request(p)), collectRun(engine, request(p))]);
    const counts = routing();
    expect(counts[home]).toEqual({
      requests: 3,
      completionTokens: 12,
      affinityHits: 2,
      spillOvers: 0,
      failovers: 0,
    });
    // The spilled request ran on the other replica, which then holds the prefix too.
    expect(counts[other]).toMatchObject({ requests: 1, completionTokens: 4, spillOvers: 1 });

    // A new prompt goes to the first replica (equal load), which dies before its first token: the
    // other takes the request over.
    a.dieBeforeFirstToken = true;
    const run = await collectRun(engine, request(prompt(7, 1)));
    expect(run.finish.reason).toBe("length");
    const after = engine.health().replicas!.map((r) => r.routing);
    expect(after.map((r) => r.failovers)).toEqual([0, 1]);
    expect(after[home]!.requests + after[other]!.requests).toBe(6);
  });
});
