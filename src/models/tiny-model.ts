/**
 * The tiny random-weight gpt-oss used by tests and `--model tiny`: generated once into the cache.
 * The format version is part of the file name, so a change to the generator regenerates it.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { RANDOM_MODEL_FORMAT_VERSION } from "./gpt-oss-plan.ts";
import { writeGptOssGguf } from "./make-model.ts";

/** Fixed, so every machine builds byte-identical tiny models. */
export const TINY_MODEL_SEED = 20250805;

export function tinyModelPath(cacheDir: string): string {
  return join(cacheDir, "models", `gpt-oss-tiny-random-v${RANDOM_MODEL_FORMAT_VERSION}.gguf`);
}

/**
 * Returns the tiny model's path, writing it first if missing. Safe when several processes start
 * at once: each writes its own temporary file and renames it into place atomically; the files are
 * identical, so whichever rename lands last changes nothing.
 */
export async function ensureTinyModel(cacheDir: string): Promise<string> {
  const path = tinyModelPath(cacheDir);
  if (await isFile(path)) return path;
  await writeGptOssGguf({ size: "tiny", out: path, seed: TINY_MODEL_SEED });
  return path;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
