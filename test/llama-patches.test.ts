/**
 * Our llama.cpp patch series (native/patches/llama.cpp/*.patch) goes into every CUDA build users make
 * (`npm run build:cuda`: scripts/build-ggml-cuda.sh, docs/gpu.md) and the GPU benchmarks run on
 * (bench/gpu/setup.sh). It must apply to the llama.cpp this package runs: node-llama-cpp's source
 * bundle. A node-llama-cpp update that moves the code under a patch fails here, not on a lent GPU
 * machine. The script's --source-only mode prepares the source without CUDA, so this runs anywhere.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparePatchedSource as prepare } from "./helpers/patched-source.ts";

const root = join(import.meta.dirname, "..");
const patchDir = join(root, "native", "patches", "llama.cpp");
const bundle = join(root, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle");
const script = join(root, "scripts", "build-ggml-cuda.sh");
const mmqConfig = join(root, "bench", "gpu", "mmq-config.sh");
const patches = readdirSync(patchDir)
  .filter((f) => f.endsWith(".patch"))
  .sort();

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "llama-patches-"));
});
afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** The lines a patch adds (`+`) or removes (`-`), without the marker. */
function changedLines(patch: string, marker: "+" | "-"): string[] {
  return readFileSync(join(patchDir, patch), "utf8")
    .split("\n")
    .filter((l) => l.startsWith(marker) && !l.startsWith(marker.repeat(3)) && l.trim().length > 1)
    .map((l) => l.slice(1));
}

/** The lines a patch adds that no later patch of the series takes out again. */
function keptLines(index: number): string[] {
  const removedLater = new Set(patches.slice(index + 1).flatMap((p) => changedLines(p, "-")));
  return changedLines(patches[index]!, "+").filter((l) => !removedLater.has(l));
}

describe("llama.cpp patch series", () => {
  it("has patches, and node-llama-cpp's source bundle to apply them to", () => {
    expect(patches.length).toBeGreaterThan(0);
    expect(existsSync(bundle)).toBe(true);
  });

  it("each applies in order with no fuzz, on a clean checkout of the bundle's commit", () => {
    const tree = join(work, "check");
    execFileSync("git", ["clone", "--quiet", bundle, tree], { stdio: "pipe" });
    for (const patch of patches) {
      // git apply refuses context that does not match exactly (patch(1) would accept fuzz).
      execFileSync("git", ["-C", tree, "apply", "--check", join(patchDir, patch)], { stdio: "pipe" });
      execFileSync("git", ["-C", tree, "apply", join(patchDir, patch)], { stdio: "pipe" });
    }
  }, 120_000);

  it("is in the source the CUDA build script compiles, and left out with --no-patches", () => {
    const dir = join(work, "script");
    const patched = prepare(dir);
    for (const patch of patches) expect(patched.log).toContain(`applied ${patch}`);
    // Every file the series names carries every line the series adds (unless a later patch changes it).
    for (const [index, patch] of patches.entries()) {
      const files = [...readFileSync(join(patchDir, patch), "utf8").matchAll(/^\+\+\+ b\/(.+)$/gm)].map(
        (m) => m[1]!,
      );
      expect(files.length).toBeGreaterThan(0);
      const text = files.map((f) => readFileSync(join(patched.src, f), "utf8")).join("\n");
      for (const line of keptLines(index)) expect(text).toContain(line);
    }
    // The GPU sweep's rewrite of the MoE kernel's launch configurations (bench/gpu/mmq-config.sh)
    // recognises the patched header, so a patch that reshapes it fails here, not on a lent GPU.
    const sweepHeader = execFileSync(
      "bash",
      [mmqConfig, join(patched.src, "ggml", "src", "ggml-cuda", "mmq-config-ampere.cuh")],
      { encoding: "utf8" },
    );
    expect(sweepHeader.match(/GPTOSS_MXV_I, +(8|16|24|32|40|48|64),/g)).toHaveLength(11);
    // A second run reuses the prepared source; --no-patches starts again from the release.
    expect(prepare(dir).log).not.toContain("applied");
    const pristine = prepare(dir, "--no-patches");
    expect(pristine.log).not.toContain("applied");
    const status = execFileSync("git", ["-C", pristine.src, "status", "--porcelain"], { encoding: "utf8" });
    expect(status).toBe("");
  }, 120_000);

  it("refuses what it does not know, before touching anything", () => {
    expect(() =>
      execFileSync("bash", [script, "--bogus"], {
        stdio: "pipe",
        env: { ...process.env, GGML_CUDA_DIR: work },
      }),
    ).toThrow(/unknown argument --bogus/);
  });
});
