/**
 * Config → a loaded Engine, through the engine registry (engines/registry.ts): resolves the model
 * (tiny is generated on first use; 20b/120b are found locally or downloaded; a .gguf path is used
 * as is) and starts the engine the config names, in worker processes (one a replica) unless
 * `--engine-process inline`. The embedded engine runs on the native core (`--core native`, the
 * default) where it was built, and on node-llama-cpp alone otherwise.
 */
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import {
  embeddedReplicas,
  startsOnUpstreams,
  UPSTREAM_ENGINE_TYPES,
  type ServerConfig,
} from "../config/schema.ts";
import type { Engine } from "../engines/engine.ts";
import { FAKE_FAILURE_ID_PREFIX, FakeEngine } from "../engines/fake/fake-engine.ts";
import { createLlamaCppEngine, type LlamaCppEngineOptions } from "../engines/llama-cpp/llama-cpp-engine.ts";
import { createNativeEngine, nativeCoreUnavailable } from "../engines/native/native-engine.ts";
import { ServerError } from "../errors/server-error.ts";
import { resolveModel } from "../models/registry.ts";
import { demoHarmonyScript } from "../engines/fake/demo-script.ts";
import { ReplicatedEngine } from "../engines/replicated-engine.ts";
import { EngineRegistry } from "../engines/registry.ts";
import { runOn, warmUp } from "../engines/warm-up.ts";
import { WorkerEngine } from "../engines/worker/worker-engine.ts";
import { UpstreamEngine, type UpstreamEngineOptions } from "../engines/upstream/upstream-engine.ts";
import { parseUpstreamSpec, type UpstreamSpec } from "../engines/upstream/upstream-spec.ts";
import { dialectNamed } from "../engines/upstream/dialects.ts";
import { detectDialect } from "../engines/upstream/detect-dialect.ts";

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
 * native crash costs a restart and not the server, unless `--engine-process inline`. `warmPrompts`
 * (rendered `--warm-prompt` prefixes) go into every replica's prefix cache before it serves, and
 * again after each worker restart; upstreams are not warmed (their caches are their own).
 */
export async function startServingEngine(
  config: ServerConfig,
  logger: Logger,
  warmPrompts: readonly (readonly number[])[] = [],
): Promise<Engine> {
  // Upstreams run nothing native here: no worker process to protect the server from.
  if (UPSTREAM_ENGINE_TYPES.has(config.engine)) return startEngine(config, logger);
  if (startsOnUpstreams(config)) {
    // auto: the upstreams when they answer, else the embedded engine (v4.5.1's auto chose too).
    try {
      return await startUpstreamEngine(config, logger);
    } catch (error) {
      logger.warn(
        { upstreams: config.upstream, err: error instanceof Error ? error.message : String(error) },
        "--engine auto: the upstreams did not answer; starting the embedded engine",
      );
      return startServingEngine({ ...config, upstream: [] }, logger, warmPrompts);
    }
  }
  if (config.engineProcess === "inline") {
    if (replicaEnvironments(config).length > 1) {
      throw new ServerError("invalid_value", "replicas need --engine-process worker", { param: "replicas" });
    }
    const engine = await startEngine(config, logger);
    if (warmPrompts.length > 0) await warmUp(warmPrompts, runOn(engine), logger, "engine");
    return engine;
  }
  const envs = replicaEnvironments(config);
  if (envs.length === 1) return WorkerEngine.start({ config, logger, env: envs[0] ?? {}, warmPrompts });
  // Started together: loading is disk- and GPU-bound per replica. One that fails stops the rest.
  const started = await Promise.allSettled(
    envs.map((env) => WorkerEngine.start({ config, logger, env, retryOnRestart: false, warmPrompts })),
  );
  const engines = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.flatMap((s) => (s.status === "rejected" ? [s.reason as unknown] : []));
  if (failed.length > 0) {
    await Promise.all(engines.map((e) => e.close()));
    throw failed[0];
  }
  logger.info(
    `${envs.length} engine replicas of ${config.model.join(",")} ready: ` +
      envs.map((e) => e["CUDA_VISIBLE_DEVICES"] ?? "cpu").join(", "),
  );
  return new ReplicatedEngine(engines, [], warmPrompts);
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

/**
 * The engines the server can run, by `--engine` type. Each factory gets a config that names one
 * model (`modelConfig`): a server with several models starts each on its own.
 */
export const ENGINE_REGISTRY = new EngineRegistry<ServerConfig>()
  // A scripted engine: for HTTP tests and for measuring the HTTP layer alone. Never a model.
  .register("fake", (config) =>
    Promise.resolve(
      new FakeEngine({
        modelId: "gpt-oss-fake",
        modelSize: "fake",
        script: demoHarmonyScript(),
        tokenDelayMs: config.fakeTokenDelayMs,
        maxSequences: config.parallel,
        contextSize: config.contextSize,
        failRequest: (req) =>
          req.id.startsWith(FAKE_FAILURE_ID_PREFIX)
            ? "the fake engine failed this request (test switch)"
            : undefined,
      }),
    ),
  )
  .register("custom", startEmbeddedEngine)
  .register("auto", startEmbeddedEngine)
  .register("vllm", startUpstreamEngine)
  .register("upstream", startUpstreamEngine);

/**
 * Upstream servers (--upstream URL,...) as one engine: each an UpstreamEngine at token level, several
 * behind the replica router (least outstanding tokens, prefix affinity so an upstream's own prefix
 * cache is reused, failover before the first token, a circuit-broken upstream skipped). They must
 * serve the same model: the first one's id names it.
 */
async function startUpstreamEngine(config: ServerConfig, logger: Logger): Promise<Engine> {
  if (config.upstream.length === 0) {
    throw new ServerError("invalid_value", `--engine ${config.engine} needs --upstream URL[,URL...]`, {
      param: "upstream",
    });
  }
  const specs = config.upstream.map(parseUpstreamSpec);
  const connected = await Promise.allSettled(
    specs.map(async (spec) => UpstreamEngine.connect(await upstreamOptions(config, spec))),
  );
  const engines = connected.flatMap((c) => (c.status === "fulfilled" ? [c.value] : []));
  const failed = connected.find((c) => c.status === "rejected");
  if (failed !== undefined) {
    // The ones that answered would keep probing for the life of the process.
    await Promise.all(engines.map((e) => e.close()));
    throw failed.reason;
  }
  const ids = new Set(engines.map((e) => e.info.modelId));
  if (ids.size > 1) {
    await Promise.all(engines.map((e) => e.close()));
    throw new Error(`the upstreams serve different models (${[...ids].join(", ")}); a pool serves one`);
  }
  logger.info(
    {
      upstreams: engines.map((e) => ({ url: e.url, dialect: e.health().upstream?.dialect })),
      model: engines[0]?.info.modelId,
    },
    `${engines.length} upstream(s) of ${engines[0]?.info.modelId ?? "?"} ready`,
  );
  return engines.length === 1
    ? engines[0]!
    : new ReplicatedEngine(
        engines,
        specs.map((spec) => spec.weight ?? 1),
      );
}

/** One upstream's options: its own settings (URL fragment) over the --upstream-* flags. */
async function upstreamOptions(config: ServerConfig, spec: UpstreamSpec): Promise<UpstreamEngineOptions> {
  const timeoutMs = spec.timeoutMs ?? config.upstreamTimeoutMs;
  const apiKey =
    spec.keyFile !== undefined ? (await readFile(spec.keyFile, "utf8")).trim() : config.upstreamKey;
  const dialectName = spec.dialect ?? config.upstreamDialect;
  // auto: probed once at start, by what only each kind of server answers (detect-dialect.ts).
  const dialect = dialectNamed(
    dialectName === "auto" ? await detectDialect(spec.url, apiKey, timeoutMs) : dialectName,
  );
  return {
    url: spec.url,
    timeoutMs,
    maxRequests: spec.parallel ?? config.upstreamParallel,
    contextSize: config.contextSize,
    dialect,
    weight: spec.weight ?? 1,
    ...(apiKey !== undefined && apiKey !== "" ? { apiKey } : {}),
  };
}

/** `config` narrowed to one of its models: what one model's engine (and its workers) is started with. */
export function modelConfig(config: ServerConfig, model: string): ServerConfig {
  return Object.freeze({ ...config, model: [model] });
}

/** The engine itself, in this process (what an engine worker runs, and `--engine-process inline`). */
export function startEngine(config: ServerConfig, logger: Logger): Promise<Engine> {
  return ENGINE_REGISTRY.create(config.engine, config, logger);
}

/**
 * The embedded engine (llama.cpp): resolves the model (tiny is generated on first use; 20b/120b
 * are found locally or downloaded; a .gguf path is used as is) and runs it on the native core
 * where it was built, on node-llama-cpp alone otherwise.
 */
async function startEmbeddedEngine(config: ServerConfig, logger: Logger): Promise<Engine> {
  const [spec, ...others] = config.model;
  if (spec === undefined || others.length > 0) {
    throw new Error(`an engine serves one model; got ${config.model.length} (start each with modelConfig)`);
  }
  const resolved = await resolveModel(spec, {
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
    if (unavailable === undefined) {
      return createNativeEngine({
        ...options,
        batchSize: config.stepTokens,
        replicas: embeddedReplicas(config),
      });
    }
    logger.warn(`--core native: ${unavailable}; running on node-llama-cpp instead`);
  }
  return createLlamaCppEngine(options);
}
