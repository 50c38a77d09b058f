/**
 * Test support, not production code: the real native core (the built addon over the tiny model on
 * the CPU), bare or under a NativeEngine, for the tests that must read the core's own counters
 * (createNativeEngine keeps its core to itself).
 */
import type { EngineInfo } from "../engine.ts";
import { silentEngineLogger } from "../llama-runtime/engine-logger.ts";
import { loadLlama } from "../llama-runtime/gpu-setup.ts";
import {
  loadedLibllamaPath,
  loadNativeCore,
  NATIVE_CORE_PATH,
  type NativeCore,
  type NativeCoreAddon,
} from "./native-core.ts";
import { NativeEngine } from "./native-engine.ts";
import { engineOptions } from "./tiny-engine-support.ts";

/** The built addon; CI always builds it, so a missing one fails the test instead of skipping it. */
export function requireCore(): NativeCoreAddon {
  const core = loadNativeCore();
  if (core === undefined) {
    throw new Error(
      `native core not built: ${NATIVE_CORE_PATH} is missing (run \`node scripts/build-native.mjs\`)`,
    );
  }
  return core;
}

/**
 * The real core (tiny model, CPU, one llama.cpp thread) under a NativeEngine, and the core itself.
 * samplerThreads > 1 gives the sampler a pool: a lone sequence then has its vocabulary split across it.
 */
export async function engineOverRealCore(
  sequences = 2,
  samplerThreads = 1,
  blockStats: "auto" | "on" | "check" | "off" = "auto",
  compactStreams: "on" | "off" = "off",
): Promise<{ engine: NativeEngine; core: NativeCore }> {
  const { llama } = await loadLlama("cpu", 1, silentEngineLogger);
  const libllamaPath = loadedLibllamaPath();
  if (libllamaPath === undefined) throw new Error("no libllama mapped after loadLlama");
  const route: { engine?: NativeEngine } = {};
  const core = await requireCore().open(
    {
      libllamaPath,
      modelPath: (await engineOptions()).modelPath,
      gpuLayers: 0,
      splitMode: "none",
      sequences,
      contextPerSequence: 1024,
      batchSize: 512,
      threads: 1,
      samplerThreads,
      flashAttention: "auto",
      blockStats,
      compactStreams,
    },
    (events) => route.engine?.deliver(events),
  );
  const info: EngineInfo = {
    name: "llama-cpp-native",
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    contextSize: core.info.contextPerSequence,
    maxSequences: core.info.sequences,
    gpuMode: "cpu",
    randomWeights: true,
    capabilities: { prefixCache: true, grammar: true, logprobs: true },
  };
  route.engine = new NativeEngine(core, info, { afterClose: () => llama.dispose() });
  return { engine: route.engine, core };
}
