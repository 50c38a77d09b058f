/**
 * Our llama.cpp patch series (native/patches/llama.cpp/*.patch, applied by the GPU build:
 * bench/gpu/setup.sh with LLAMA_PATCHES=1, docs/gpu.md) must apply to the llama.cpp this package
 * runs: node-llama-cpp's source bundle. A node-llama-cpp update that moves the code under a patch
 * fails here, not on a lent GPU machine.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const patchDir = join(root, "native", "patches", "llama.cpp");
const bundle = join(root, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle");
const patches = readdirSync(patchDir)
  .filter((f) => f.endsWith(".patch"))
  .sort();

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "llama-patches-"));
  execFileSync("git", ["clone", "--quiet", bundle, join(work, "llama.cpp")], { stdio: "pipe" });
}, 120_000);
afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("llama.cpp patch series", () => {
  it("has patches, and node-llama-cpp's source bundle to apply them to", () => {
    expect(patches.length).toBeGreaterThan(0);
    expect(existsSync(bundle)).toBe(true);
  });

  it("applies in order, each on top of the ones before, with no fuzz", () => {
    const tree = join(work, "llama.cpp");
    for (const patch of patches) {
      // git apply refuses context that does not match exactly (patch(1) would accept fuzz).
      execFileSync("git", ["-C", tree, "apply", "--check", join(patchDir, patch)], { stdio: "pipe" });
      execFileSync("git", ["-C", tree, "apply", join(patchDir, patch)], { stdio: "pipe" });
    }
    // Every file the series names is changed.
    const status = execFileSync("git", ["-C", tree, "status", "--porcelain"], { encoding: "utf8" });
    const named = patches.flatMap((patch) =>
      [...readFileSync(join(patchDir, patch), "utf8").matchAll(/^\+\+\+ b\/(.+)$/gm)].map((m) => m[1]!),
    );
    expect(named.length).toBeGreaterThan(0);
    for (const file of named) expect(status).toContain(file);
  });
});
