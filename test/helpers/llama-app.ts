/**
 * The HTTP app in-process over the REAL embedded engine with the tiny random-weight model: for
 * tests that must cross llama.cpp (grammars, sampling) but not a process boundary. One thread, as
 * every llama.cpp test on the shared 2-core machine.
 */
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { defaultConfig } from "../../src/config/defaults.ts";
import type { ServerConfig } from "../../src/config/schema.ts";
import type { Engine } from "../../src/engines/engine.ts";
import { createLlamaCppEngine } from "../../src/engines/llama-cpp/llama-cpp-engine.ts";
import { buildApp } from "../../src/http/app.ts";
import { createServerMetrics } from "../../src/metrics/prometheus.ts";
import { StatsCollector } from "../../src/metrics/stats-collector.ts";
import { ensureTinyModel } from "../../src/models/tiny-model.ts";
import { Scheduler } from "../../src/scheduler/scheduler.ts";
import { ModelPool } from "../../src/serving/model-pool.ts";
import { SUITE_DATE } from "./suite-date.ts";

export interface LlamaApp {
  app: FastifyInstance;
  engine: Engine;
  close(): Promise<void>;
}

export async function buildLlamaApp(config: Partial<ServerConfig> = {}): Promise<LlamaApp> {
  // The suite's date, not today's: the prompt, and so each seeded run, is the same every day.
  const full: ServerConfig = Object.freeze({
    ...defaultConfig(),
    model: ["tiny"],
    date: SUITE_DATE,
    ...config,
  });
  const modelPath = process.env["GPTOSS_TINY_MODEL"] ?? (await ensureTinyModel(full.cacheDir));
  const engine = await createLlamaCppEngine({
    modelPath,
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    randomWeights: true,
    maxSequences: 2,
    contextSizePerSequence: 2048,
    gpuMode: "cpu",
    threads: 1,
  });
  const pool = new ModelPool();
  const scheduler = new Scheduler(engine, {
    maxConcurrent: engine.info.maxSequences,
    maxQueue: full.maxQueue,
  });
  pool.add({ id: engine.info.modelId, size: "tiny", engineType: "llama-cpp", engine, scheduler });
  pool.markReady();
  const app = buildApp({
    config: full,
    pool,
    stats: new StatsCollector(),
    metrics: createServerMetrics({ model_size: "tiny", gpu_mode: "cpu" }),
    logger: pino({ level: "silent" }),
    isShuttingDown: () => false,
  });
  return {
    app,
    engine,
    close: async () => {
      await app.close();
      await engine.close();
    },
  };
}
