import { describe, expect, it } from "vitest";
import type { EngineHealth, UpstreamHealth } from "../engines/engine.ts";
import { loadGauges } from "./dashboard-gauges.ts";
import type { ModelPool } from "./model-pool.ts";

const routing = { requests: 0, completionTokens: 0, affinityHits: 0, spillOvers: 0, failovers: 0 };

function upstream(url: string, circuit: "closed" | "open"): UpstreamHealth {
  return { url, dialect: "openai-chat", requests: 0, failures: 0, rateLimited: 0, circuit, weight: 1 };
}

/** A pool of models with these healths and queues (only what loadGauges reads). */
function pool(
  models: Array<{ id: string; health: EngineHealth; queued: number; active: number }>,
): ModelPool {
  return {
    models: models.map((m) => ({
      id: m.id,
      engine: { health: () => m.health },
      scheduler: { snapshot: () => ({ queued: m.queued, active: m.active, perProfile: {} }) },
    })),
  } as unknown as ModelPool;
}

describe("loadGauges", () => {
  it("reads each model's queue, each replica's and each upstream's load", () => {
    const gauges = loadGauges(
      pool([
        { id: "local", health: { status: "ready", activeSequences: 2 }, queued: 1, active: 2 },
        {
          id: "replicated",
          queued: 0,
          active: 3,
          health: {
            status: "ready",
            activeSequences: 3,
            replicas: [
              { status: "ready", activeSequences: 2, running: 2, routing },
              { status: "loading", activeSequences: 1, running: 1, routing },
            ],
          },
        },
        {
          id: "gateway",
          queued: 4,
          active: 1,
          health: {
            status: "ready",
            activeSequences: 1,
            replicas: [
              {
                status: "ready",
                activeSequences: 1,
                running: 1,
                routing,
                upstream: upstream("http://a", "closed"),
              },
              {
                status: "ready",
                activeSequences: 0,
                running: 0,
                routing,
                upstream: upstream("http://b", "open"),
              },
            ],
          },
        },
        {
          id: "one-upstream",
          queued: 0,
          active: 5,
          health: { status: "ready", activeSequences: 5, upstream: upstream("http://c", "closed") },
        },
      ]),
    );
    expect(gauges.models).toEqual({
      local: { queued: 1, active: 2 },
      replicated: { queued: 0, active: 3 },
      gateway: { queued: 4, active: 1 },
      "one-upstream": { queued: 0, active: 5 },
    });
    // A model on one local engine has no replica entry: its own figures say it all.
    expect(gauges.replicas).toEqual({
      "replicated#0": { model_id: "replicated", status: "ready", running: 2 },
      "replicated#1": { model_id: "replicated", status: "loading", running: 1 },
      "http://a": { model_id: "gateway", status: "ready", running: 1 },
      "http://b": { model_id: "gateway", status: "open", running: 0 },
      "http://c": { model_id: "one-upstream", status: "ready", running: 5 },
    });
  });
});
