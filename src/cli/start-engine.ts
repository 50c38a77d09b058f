/**
 * Config → a loaded Engine: resolves the model (tiny is generated on first use; 20b/120b are found
 * locally or downloaded; a .gguf path is used as is) and starts the engine the config names. The
 * embedded engine runs on the native core (`--core native`, the default) where it was built, and on
 * node-llama-cpp alone otherwise.
 */
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import type { ServerConfig } from "../config/schema.ts";
import type { Engine } from "../engines/engine.ts";
import { FakeEngine } from "../engines/fake/fake-engine.ts";
import { createLlamaCppEngine, type LlamaCppEngineOptions } from "../engines/llama-cpp/llama-cpp-engine.ts";
import { createNativeEngine, nativeCoreUnavailable } from "../engines/native/native-engine.ts";
import { ServerError } from "../errors/server-error.ts";
import { resolveModel } from "../models/registry.ts";
import { demoHarmonyScript } from "../engines/fake/demo-script.ts";
import { ReplicatedEngine } from "../engines/replicated-engine.ts";
import { WorkerEngine } from "../engines/worker/worker-engine.ts";

/**
 * llama.cpp's worker threads spin while they wait; more threads than free cores slows decoding by
 * orders of magnitude (measured: 400 ms/token with 4 threads on 2 busy cores, 3 ms with 1). Half the
 * cores leaves room for the HTTP layer and the OS.
 */
export function defaultThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

/**
 * The engine as the server runs it: in a supervised worker process (src/engines/worker), so that a
 * native crash costs a restart and not the server, unless `--engine-process inline`.
 */
export async function startServingEngine(config: ServerConfig, logger: Logger): Promise<Engine> {
  if (config.engineProcess === "inline") {
    if (replicaEnvironments(config).length > 1) {
      throw new ServerError("invalid_value", "replicas need --engine-process worker", { param: "replicas" });
    }
    return startEngine(config, logger);
  }
  const envs = replicaEnvironments(config);
  if (envs.length === 1) return WorkerEngine.start({ config, logger, env: envs[0] ?? {} });
  // Started together: loading is disk- and GPU-bound per replica. One that fails stops the rest.
  const started = await Promise.allSettled(
    envs.map((env) => WorkerEngine.start({ config, logger, env, retryOnRestart: false })),
  );
  const failed = started.find((s) => s.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  logger.info(
    `${envs.length} engine replicas ready: ${envs.map((e) => e["CUDA_VISIBLE_DEVICES"] ?? "cpu").join(", ")}`,
  );
  return new ReplicatedEngine(started.map((s) => (s as PromiseFulfilledResult<WorkerEngine>).value));
}

/**
 * One environment a replica: with --gpus, each GPU's replicas see only that GPU
 * (CUDA_VISIBLE_DEVICES); without, --replicas copies on the CPU (or on every visible GPU).
 */
export function replicaEnvironments(config: ServerConfig): NodeJS.ProcessEnv[] {
  if (config.gpus.length === 0) return Array.from({ length: config.replicas }, () => ({}));
  return config.gpus.flatMap((gpu) =>
    Array.from({ length: config.replicasPerGpu }, () => ({ CUDA_VISIBLE_DEVICES: gpu })),
  );
}

/** The engine itself, in this process (what an engine worker runs, and `--engine-process inline`). */
export async function startEngine(config: ServerConfig, logger: Logger): Promise<Engine> {
  if (config.engine === "fake") {
    // A scripted engine: for HTTP tests and for measuring the HTTP layer alone. Never a model.
    return new FakeEngine({
      modelId: "gpt-oss-fake",
      modelSize: "fake",
      script: demoHarmonyScript(),
      tokenDelayMs: config.fakeTokenDelayMs,
      maxSequences: config.parallel,
      contextSize: config.contextSize,
    });
  }
  if (config.engine === "vllm") {
    throw new ServerError(
      "invalid_value",
      "--engine vllm (an OpenAI-compatible upstream) is not available in this version; use --engine custom",
      { param: "engine" },
    );
  }
  const resolved = await resolveModel(config.model, {
    modelsDir: config.modelsDir,
    cacheDir: config.cacheDir,
    allowDownload: config.allowDownload,
    downloadBaseUrl: config.downloadUrl,
  });
  logger.info(
    { model: resolved.modelId, path: resolved.path, random_weights: resolved.randomWeights },
    "loading model",
  );
  const options: LlamaCppEngineOptions = {
    modelPath: resolved.path,
    modelId: resolved.modelId,
    modelSize: resolved.size,
    randomWeights: resolved.randomWeights,
    maxSequences: config.parallel,
    contextSizePerSequence: config.contextSize,
    gpuMode: config.gpuMode,
    threads: config.threads > 0 ? config.threads : defaultThreads(),
    logger,
  };
  if (config.core === "native") {
    const unavailable = nativeCoreUnavailable();
    if (unavailable === undefined) return createNativeEngine({ ...options, batchSize: config.stepTokens });
    logger.warn(`--core native: ${unavailable}; running on node-llama-cpp instead`);
  }
  return createLlamaCppEngine(options);
}
