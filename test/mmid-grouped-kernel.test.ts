/**
 * Patch 0007's CUDA kernel (MXFP4 MUL_MAT_ID grouped by expert, int8 tensor cores) has no GPU here, and
 * a lent one gives 30 minutes a session. So its own source, cut from the patched llama.cpp, runs on the
 * CPU: test/ggml-cuda/mmid-grouped-emu.cpp compiles it as C++ with test doubles of the tensor-core
 * instruction (PTX's fragment layout) and of ggml's device helpers, runs each warp as 32 threads, and
 * compares every output with a direct sum, under AddressSanitizer (a read past a matrix fails it too).
 * What it cannot see: the GPU itself (the real instruction, the inline asm's operand order, timing)
 * and the host code around the kernel (strides, quantisation, the expert sort); test-backend-ops
 * checks those on the device (bench/gpu/moe-grouped.sh).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparePatchedSource } from "./helpers/patched-source.ts";

const emulator = join(import.meta.dirname, "ggml-cuda", "mmid-grouped-emu.cpp");
let dir: string;
let kernel: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mmid-grouped-"));
  const { src } = preparePatchedSource(join(dir, "llama"));
  const cu = readFileSync(join(src, "ggml", "src", "ggml-cuda", "mmid-grouped.cu"), "utf8");
  // The kernel template alone: from its declaration to the host code after it.
  const start = cu.indexOf("template <int mtiles, int ntiles>\n__launch_bounds__");
  const end = cu.indexOf("static int mmid_grouped_env(");
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  kernel = cu.slice(start, end);
}, 120_000);
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Compiles the emulator around `source` (the kernel) in its own folder and runs it. */
function emulate(name: string, source: string): { status: number | null; out: string } {
  const build = join(dir, name);
  execFileSync("mkdir", ["-p", build]);
  writeFileSync(join(build, "kernel.inc"), source);
  const bin = join(build, "emu");
  // AddressSanitizer: a read past a buffer (a row or token the kernel should have clamped) is an error
  // even where its result is never written.
  const flags = [
    "-std=c++20",
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
  ];
  execFileSync("g++", [...flags, "-pthread", "-Wno-unknown-pragmas", `-I${build}`, "-o", bin, emulator], {
    stdio: "pipe",
  });
  const r = spawnSync(bin, { encoding: "utf8", timeout: 90_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe("patch 0007's grouped MoE kernel, emulated on the CPU", () => {
  it("gives every output of every tile shape the direct sum gives", () => {
    const r = emulate("kernel", kernel);
    const lines = r.out.split("\n").filter((l) => l.includes(" bad of "));
    // 4 cases x 4 tile shapes (16 or 32 rows a warp, 8 or 16 tokens a pass)
    expect(lines).toHaveLength(16);
    for (const l of lines) expect(l).toMatch(/: 0 bad of [1-9]\d*,/);
    expect(r.out).toContain("all match");
    expect(r.status).toBe(0);
  }, 120_000);

  it("fails a kernel that puts a row's high nibbles in the wrong A register (the emulator can tell)", () => {
    const swapped = kernel.replace(
      "w[mt][0].x, w[mt][1].x, w[mt][0].y, w[mt][1].y",
      "w[mt][0].x, w[mt][0].y, w[mt][1].x, w[mt][1].y",
    );
    expect(swapped).not.toBe(kernel);
    const r = emulate("swapped", swapped);
    expect(r.out).toContain("FAILED");
    expect(r.status).toBe(1);
  }, 120_000);

  it("fails a kernel that reads rows past the end of a matrix whose rows are not a multiple of 16", () => {
    const unclamped = kernel.replace("min(row0 + 16*mt + g + 8*h, nrows - 1)", "row0 + 16*mt + g + 8*h");
    expect(unclamped).not.toBe(kernel);
    const r = emulate("unclamped", unclamped);
    expect(r.out).toMatch(/AddressSanitizer|FAILED/);
    expect(r.status).not.toBe(0);
  }, 120_000);
});
