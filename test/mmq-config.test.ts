/**
 * bench/gpu/mmq-config.sh rewrites llama.cpp's mmq-config-ampere.cuh so that the GPU sweep
 * (bench/gpu/mmq-sweep.sh) can compile one launch configuration of the MXFP4 MoE kernel per nvcc run,
 * with -D. The whole build includes that header, so without -D it must mean exactly what it meant, and
 * with -D only the tiles of up to 64 columns may change. The C preprocessor (cpp, there wherever the
 * native core builds) expands the rewritten header as nvcc would; the fixtures follow the header's
 * real lines, pristine and with patch 0002 (test/llama-patches.test.ts runs it on the real file too).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const script = join(import.meta.dirname, "..", "bench", "gpu", "mmq-config.sh");

type Tile = { nt: number; occ: number; i: number; j: number; fallback: boolean };
const SMALL = [8, 16, 32, 64];
const ALL = [8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128];

/** The header's MXFP4 block, each tile with `config(j)` as its launch configuration. */
function header(config: (j: number) => [number, number, number]): string {
  const line = (type: string, j: number, fallback: boolean, cfg: [number, number, number]): string =>
    `    CASE(${type}, ${cfg[0]}, ${cfg[1]}, ${String(cfg[2]).padStart(3)}, ${String(j).padStart(3)}, ` +
    `GGML_CUDA_MMQ_SRAM_LAYOUT_Q8_1, MMQ_ITER_K, true, ${fallback});`;
  return [
    "static constexpr __host__ __device__ ggml_cuda_mmq_config ggml_cuda_mmq_get_config_ampere(ggml_type type, int J, bool fallback) {",
    // Another type's lines, which must never change.
    ...ALL.map((j) => line("GGML_TYPE_IQ4_NL", j, false, [256, 1, 128])),
    "    // MXFP4 tiles of up to 64 columns",
    ...[...SMALL, 128].map((j) => line("GGML_TYPE_MXFP4", j, true, j <= 64 ? config(j) : [256, 1, 128])),
    ...ALL.map((j) => line("GGML_TYPE_MXFP4", j, false, j <= 64 ? config(j) : [256, 1, 128])),
    "}",
  ].join("\n");
}
const pristine = header(() => [256, 1, 128]);
const patched = header(() => [128, 4, 64]); // patch 0002

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "mmq-config-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function rewrite(text: string): string {
  const file = join(work, "orig.cuh");
  writeFileSync(file, text);
  return execFileSync("bash", [script, file], { encoding: "utf8" });
}
/** What nvcc's preprocessor makes of `text` with these -D options. */
function expand(text: string, defs: string[] = []): string {
  const file = join(work, "in.cuh");
  writeFileSync(file, text);
  return execFileSync("cpp", ["-P", ...defs, file], { encoding: "utf8" });
}
/** The MXFP4 tiles in expanded text. */
function tiles(text: string): Tile[] {
  return [...text.matchAll(/CASE\(GGML_TYPE_MXFP4, (\d+), (\d+), +(\d+), +(\d+),.*(true|false)\);/g)].map(
    (m) => ({ nt: +m[1]!, occ: +m[2]!, i: +m[3]!, j: +m[4]!, fallback: m[5] === "true" }),
  );
}
const variant = (nt: number, occ: number, i: number, jmax: number): string[] => [
  `-DGPTOSS_MXV_NT=${nt}`,
  `-DGPTOSS_MXV_OCC=${occ}`,
  `-DGPTOSS_MXV_I=${i}`,
  `-DGPTOSS_MXV_JMAX=${jmax}`,
];

describe("bench/gpu/mmq-config.sh", () => {
  it("leaves the header meaning what it meant without -D, pristine and patched", () => {
    for (const text of [pristine, patched]) {
      const edited = rewrite(text);
      expect(edited).not.toBe(text); // the MXFP4 lines did become configurable
      expect(expand(edited)).toBe(expand(text));
    }
  });

  it("gives every tile of J <= 64 the variant, and no other line", () => {
    const out = expand(rewrite(patched), variant(128, 6, 64, 64));
    const got = tiles(out);
    expect(got).toHaveLength(16);
    for (const t of got) {
      expect([t.nt, t.occ, t.i]).toEqual(t.j <= 64 ? [128, 6, 64] : [256, 1, 128]);
    }
    // The other type's lines are as they were.
    expect(out.match(/CASE\(GGML_TYPE_IQ4_NL, 256, 1, 128,/g)).toHaveLength(ALL.length);
  });

  it("splits at JMAX: the variant below, the series' own or a second configuration above", () => {
    const edited = rewrite(patched);
    for (const t of tiles(expand(edited, variant(128, 6, 64, 16)))) {
      const want = t.j <= 16 ? [128, 6, 64] : t.j <= 64 ? [128, 4, 64] : [256, 1, 128];
      expect([t.nt, t.occ, t.i], `J ${t.j}`).toEqual(want);
    }
    const two = [
      ...variant(128, 6, 64, 16),
      "-DGPTOSS_MXV2_NT=256",
      "-DGPTOSS_MXV2_OCC=2",
      "-DGPTOSS_MXV2_I=128",
    ];
    const got = tiles(expand(edited, two));
    for (const t of got) {
      const want = t.j <= 16 ? [128, 6, 64] : t.j <= 64 ? [256, 2, 128] : [256, 1, 128];
      expect([t.nt, t.occ, t.i], `J ${t.j} fallback ${t.fallback}`).toEqual(want);
    }
    expect(got.filter((t) => t.j === 24)).toHaveLength(1); // 24 exists without the fallback only
  });

  it("refuses a header whose MXFP4 lines it does not recognise, printing nothing", () => {
    const missing = pristine.replace(/.*GGML_TYPE_MXFP4, 256, 1, 128, {2}40.*\n/, "");
    expect(missing.length).toBeLessThan(pristine.length);
    writeFileSync(join(work, "missing.cuh"), missing);
    const bad = spawnSync("bash", [script, join(work, "missing.cuh")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/10 MXFP4 tiles of J <= 64 matched, not 11/);
  });
});
