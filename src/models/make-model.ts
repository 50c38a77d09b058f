/**
 * Writes a gpt-oss GGUF with random weights: the real architecture, shapes and tokenizer, so the
 * whole serving stack (and the GPU) does real work without downloading 13–61 GB of weights.
 */
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import cliProgress from "cli-progress";
import { planGguf, writeGguf, type GgufFileSpec, type GgufPlan } from "./gguf-writer.ts";
import { gptOssMetadata, gptOssTensors, type DenseType, type GptOssSize } from "./gpt-oss-plan.ts";
import { loadGptOssVocab } from "./gpt-oss-vocab.ts";

export interface WriteGptOssOptions {
  size: GptOssSize;
  out: string;
  seed: number;
  /** The attention projections' and output matrix's type (default F16, as llama.cpp converts). */
  denseType?: DenseType;
  onProgress?: (written: number, total: number) => void;
}

export interface WriteGptOssResult {
  path: string;
  bytes: number;
  ms: number;
}

export async function gptOssFileSpec(
  size: GptOssSize,
  seed: number,
  denseType: DenseType = "f16",
): Promise<GgufFileSpec> {
  const s = seed >>> 0;
  const vocab = await loadGptOssVocab();
  return { metadata: gptOssMetadata(size, vocab, s, denseType), tensors: gptOssTensors(size, s, denseType) };
}

/** The layout of a model without writing it (sizes, offsets): cheap even for 120b. */
export async function planGptOssGguf(
  size: GptOssSize,
  seed = 0,
  denseType: DenseType = "f16",
): Promise<GgufPlan> {
  return planGguf(await gptOssFileSpec(size, seed, denseType)).plan;
}

/**
 * Deterministic in (size, seed). Writes to a temporary file beside `out` and renames it into place,
 * so no reader (or a second writer) ever sees a half-written model.
 */
export async function writeGptOssGguf(options: WriteGptOssOptions): Promise<WriteGptOssResult> {
  const started = performance.now();
  const spec = await gptOssFileSpec(options.size, options.seed, options.denseType);
  await mkdir(dirname(options.out), { recursive: true });
  const tmp = `${options.out}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const plan = await writeGguf(
      tmp,
      spec,
      options.onProgress === undefined ? {} : { onProgress: options.onProgress },
    );
    await rename(tmp, options.out);
    return { path: options.out, bytes: plan.totalBytes, ms: performance.now() - started };
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

export interface MakeModelCommandOptions {
  size: GptOssSize;
  out: string;
  seed?: number;
  denseType?: DenseType;
}

const GIB = 1024 ** 3;

/** The `make-model` CLI command: a progress bar on stderr, a summary line on stdout. */
export async function makeModelCommand(options: MakeModelCommandOptions): Promise<WriteGptOssResult> {
  const seed = options.seed ?? 0;
  const bar = new cliProgress.SingleBar(
    {
      format: "writing {bar} {percentage}% | {value}/{total} MiB | {speed} MiB/s | eta {eta_formatted}",
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const t0 = performance.now();
  try {
    const result = await writeGptOssGguf({
      size: options.size,
      out: options.out,
      seed,
      ...(options.denseType === undefined ? {} : { denseType: options.denseType }),
      onProgress: (written, total) => {
        const mib = (n: number): number => Math.round(n / 2 ** 20);
        const seconds = (performance.now() - t0) / 1000;
        const speed = seconds > 0 ? Math.round(written / 2 ** 20 / seconds) : 0;
        if (!started) {
          bar.start(mib(total), 0, { speed });
          started = true;
        }
        bar.update(mib(written), { speed });
      },
    });
    if (started) bar.stop();
    const seconds = result.ms / 1000;
    const size =
      result.bytes >= GIB
        ? `${(result.bytes / GIB).toFixed(2)} GiB`
        : `${(result.bytes / 2 ** 20).toFixed(1)} MiB`;
    const rate = result.bytes / 2 ** 20 / Math.max(seconds, 1e-3);
    process.stdout.write(
      `wrote ${result.path}: gpt-oss-${options.size} (random weights, seed ${seed}` +
        `${options.denseType === "q8_0" ? ", Q8_0 dense matrices" : ""}), ` +
        `${size} in ${seconds.toFixed(1)} s (${rate.toFixed(0)} MiB/s)\n`,
    );
    return result;
  } catch (error) {
    if (started) bar.stop();
    throw error;
  }
}
