/**
 * GPU mode → how node-llama-cpp loads llama.cpp, and the mode that actually took effect.
 *
 * llama.cpp (through node-llama-cpp) splits a model across GPUs by layers: that is pipeline
 * parallelism, its default when several GPUs are visible. It has no tensor parallelism worth the
 * name, so "tensor" is refused with a pointer to the vLLM engine. node-llama-cpp exposes no device
 * selection, so "single" narrows the visible CUDA devices before the backend loads.
 */
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { ServerError } from "../../errors/server-error.ts";
import type { EngineLogger } from "./engine-logger.ts";

export type GpuMode = "auto" | "single" | "pipeline" | "tensor" | "cpu";
export type EffectiveGpuMode = "cpu" | "single" | "pipeline";

export interface LoadedLlama {
  llama: Llama;
  effectiveMode: EffectiveGpuMode;
  devices: string[];
}

export async function loadLlama(
  gpuMode: GpuMode,
  threads: number,
  logger: EngineLogger,
): Promise<LoadedLlama> {
  if (gpuMode === "tensor") {
    throw new ServerError(
      "invalid_value",
      'gpu_mode "tensor" (tensor parallelism) needs the vLLM engine (--engine vllm); the embedded ' +
        'llama.cpp engine supports "single", "pipeline" (layers split across GPUs), "cpu" and "auto".',
      { param: "gpu_mode" },
    );
  }
  if (gpuMode === "single" && process.env.CUDA_VISIBLE_DEVICES === undefined) {
    // Read by the CUDA runtime when the backend initialises, i.e. during the first getLlama() of
    // this process; a later call cannot narrow the devices any more (the effective mode says so).
    process.env.CUDA_VISIBLE_DEVICES = "0";
    logger.info('gpu_mode "single": limiting CUDA to device 0 (CUDA_VISIBLE_DEVICES=0)');
  }
  const llama = await getLlama({
    // "auto" tries CUDA, Vulkan, Metal in turn and falls back to the CPU binary. Prebuilt binaries
    // only: building or downloading at runtime is never acceptable for a server start.
    gpu: gpuMode === "cpu" ? false : "auto",
    build: "never",
    progressLogs: false,
    ...(threads > 0 ? { maxThreads: threads } : {}),
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trimEnd();
      if (text === "") return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) logger.error(`llama.cpp: ${text}`);
      else if (level === LlamaLogLevel.warn) logger.warn(`llama.cpp: ${text}`);
      else logger.debug(`llama.cpp: ${text}`);
    },
  });
  if (llama.gpu === false) return { llama, effectiveMode: "cpu", devices: [] };
  const devices = await llama.getGpuDeviceNames();
  const effectiveMode: EffectiveGpuMode = devices.length > 1 ? "pipeline" : "single";
  if (gpuMode === "single" && effectiveMode !== "single") {
    logger.warn(
      `gpu_mode "single" requested but ${devices.length} GPUs are visible; layers split across them`,
    );
  }
  return { llama, effectiveMode, devices };
}
