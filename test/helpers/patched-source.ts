/**
 * The llama.cpp source with our patch series applied, as `npm run build:cuda` compiles it: the build
 * script's --source-only mode (no CUDA needed) in `dir`. Shared by the tests that read or build it.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const script = join(import.meta.dirname, "..", "..", "scripts", "build-ggml-cuda.sh");

/** Prepares the source in `dir` (GGML_CUDA_DIR); returns the folder the script prints, and its log. */
export function preparePatchedSource(dir: string, ...args: string[]): { src: string; log: string } {
  const log = execFileSync("bash", [script, "--source-only", ...args], {
    encoding: "utf8",
    env: { ...process.env, GGML_CUDA_DIR: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = log.trim().split("\n");
  return { src: lines[lines.length - 1]!, log };
}
