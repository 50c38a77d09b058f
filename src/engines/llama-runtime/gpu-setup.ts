/**
 * GPU mode → how node-llama-cpp loads llama.cpp, and the mode that actually took effect.
 *
 * "pipeline" splits the model's layers across the visible GPUs (llama.cpp's split mode LAYER, its
 * default with several GPUs); "tensor" splits each layer's matrices across them (split mode TENSOR,
 * with flash attention), which only the native core can ask llama.cpp for: node-llama-cpp exposes
 * no split mode, so the fallback engine refuses it. node-llama-cpp exposes no device selection
 * either, so "single" narrows the visible CUDA devices before the backend loads.
 */
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { ServerError } from "../../errors/server-error.ts";
import type { EngineLogger } from "./engine-logger.ts";

export type GpuMode = "auto" | "single" | "pipeline" | "tensor" | "cpu";
export type EffectiveGpuMode = "cpu" | "single" | "pipeline" | "tensor";

export interface LoadedLlama {
  llama: Llama;
  effectiveMode: EffectiveGpuMode;
  devices: string[];
}

/**
 * The mode that takes effect with `devices` GPUs visible: one GPU is "single" whatever was asked
 * (nothing to split); several are split by layers unless "tensor" was asked; "single" on several
 * is split too (the devices could not be narrowed any more: a warning says so).
 */
export function effectiveGpuMode(
  requested: GpuMode,
  devices: number,
): { mode: EffectiveGpuMode; warning?: string } {
  if (devices === 0) return { mode: "cpu" };
  if (devices === 1) {
    return requested === "tensor" || requested === "pipeline"
      ? {
          mode: "single",
          warning: `gpu_mode "${requested}" needs several GPUs; one is visible, so it runs on one`,
        }
      : { mode: "single" };
  }
  if (requested === "tensor") return { mode: "tensor" };
  if (requested === "single") {
    return {
      mode: "pipeline",
      warning: `gpu_mode "single" requested but ${devices} GPUs are visible; layers split across them`,
    };
  }
  return { mode: "pipeline" };
}

export async function loadLlama(
  gpuMode: GpuMode,
  threads: number,
  logger: EngineLogger,
  /** The native core can split tensors across GPUs; node-llama-cpp's own contexts cannot. */
  support: { tensorSplit: boolean } = { tensorSplit: false },
): Promise<LoadedLlama> {
  if (gpuMode === "tensor" && !support.tensorSplit) {
    throw new ServerError(
      "invalid_value",
      'gpu_mode "tensor" (tensor parallelism) needs the native core (--core native, built by npm ci); ' +
        'the node-llama-cpp engine supports "single", "pipeline" (layers split across GPUs), "cpu" and "auto".',
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
      else if (level === LlamaLogLevel.warn && !isExpectedLoadWarning(text))
        logger.warn(`llama.cpp: ${text}`);
      else logger.debug(`llama.cpp: ${text}`);
    },
  });
  if (llama.gpu === false) return { llama, effectiveMode: "cpu", devices: [] };
  const devices = await llama.getGpuDeviceNames();
  const { mode: effectiveMode, warning } = effectiveGpuMode(gpuMode, devices.length);
  if (warning !== undefined) logger.warn(warning);
  return { llama, effectiveMode, devices };
}

/**
 * Warnings llama.cpp prints on every load of a gpt-oss model, which say nothing is wrong: it marks
 * harmony's control tokens user-defined, takes <|end|> out of the end-of-generation set (harmony's
 * turns end on <|return|> or <|call|>), and sizes the sliding-window cache in full. At WARN they
 * opened every start with six alarming lines; they stay in the debug log.
 */
const EXPECTED_LOAD_WARNINGS: readonly RegExp[] = [
  /^load: setting token '<\|[a-z_]+\|>' \(\d+\) attribute to USER_DEFINED/,
  /^load: special_eog_ids contains both '<\|return\|>' and '<\|call\|>'/,
  /^llama_kv_cache_iswa: using full-size SWA cache/,
];

export function isExpectedLoadWarning(text: string): boolean {
  return EXPECTED_LOAD_WARNINGS.some((pattern) => pattern.test(text));
}
