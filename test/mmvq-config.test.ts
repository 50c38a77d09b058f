/**
 * bench/gpu/mmvq-config.sh rewrites llama.cpp's mmvq.cu so that the GPU sweep (bench/gpu/mmq-sweep.sh,
 * MMVQ_VARIANTS) can compile the one-column MXFP4 kernel with other warps and rows a block, from -D.
 * The sweep edits the build tree's own file, so without -D it must mean exactly what it meant. Checked
 * on the real mmvq.cu of the patched source (what scripts/build-ggml-cuda.sh builds) with the C
 * preprocessor, its #include lines left out on both sides (cpp cannot find CUDA's headers; the rewrite
 * touches none). Also here: how bench/gpu/mmq-variant.sh reads an MMVQ_VARIANTS entry.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparePatchedSource } from "./helpers/patched-source.ts";

const root = join(import.meta.dirname, "..");
const script = join(root, "bench", "gpu", "mmvq-config.sh");

let work: string;
let original: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "mmvq-config-"));
  const { src } = preparePatchedSource(join(work, "ggml-cuda"));
  original = join(src, "ggml", "src", "ggml-cuda", "mmvq.cu");
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function rewrite(file: string): string {
  return execFileSync("bash", [script, file], { encoding: "utf8" });
}
/** What the preprocessor makes of `text` with these -D options, #include lines left out. */
function expand(text: string, defs: string[] = []): string {
  const file = join(work, "in.cu");
  writeFileSync(file, text.replace(/^#include .*$/gm, ""));
  return execFileSync("cpp", ["-P", "-x", "c++", ...defs, file], { encoding: "utf8" });
}

describe("bench/gpu/mmvq-config.sh", () => {
  it("leaves mmvq.cu meaning what it meant without -D", () => {
    const text = readFileSync(original, "utf8");
    const edited = rewrite(original);
    expect(edited).not.toBe(text);
    expect(expand(edited)).toBe(expand(text));
  });

  it("with -D, sets the MXFP4 one-column kernel's warps and rows a block, and nothing else's", () => {
    const edited = expand(rewrite(original), ["-DGPTOSS_MMVQ_NWARPS=2", "-DGPTOSS_MMVQ_RPB=4"]);
    const plain = expand(readFileSync(original, "utf8"));
    // calc_nwarps answers 2 for MXFP4 with one column on the generic table, before any other rule.
    expect(edited).toMatch(
      /calc_nwarps\([^)]*\) \{\s*if \(type == GGML_TYPE_MXFP4 && ncols_dst == 1 && table_id == MMVQ_PARAMETERS_GENERIC\) \{\s*return 2;/,
    );
    // calc_rows_per_block (typed since patch 0004) answers 4 for the same kernel, before its tables.
    expect(edited).toMatch(
      /calc_rows_per_block\(ggml_type type[^)]*\) \{\s*if \(type == GGML_TYPE_MXFP4 && ncols_dst == 1 && table_id == MMVQ_PARAMETERS_GENERIC\) \{\s*return 4;/,
    );
    // Every line of the original is still there, in order: the rewrite only adds the two early returns.
    const editedLines = edited.split("\n");
    const plainLines = plain.split("\n");
    expect(editedLines.length - plainLines.length).toBe(6);
    let at = 0;
    for (const line of plainLines) {
      at = editedLines.indexOf(line, at);
      expect(at).toBeGreaterThanOrEqual(0);
      at++;
    }
  });

  it("refuses a file without the lines it expects", () => {
    const file = join(work, "other.cu");
    writeFileSync(
      file,
      readFileSync(original, "utf8").replace(
        "calc_rows_per_block(ggml_type type, int ncols_dst,",
        "calc_rows_per_block(int ncols_dst,",
      ),
    );
    const r = spawnSync("bash", [script, file], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("mmvq-config: expected calc_nwarps and calc_rows_per_block");
  });
});

describe("bench/gpu/mmq-variant.sh", () => {
  /** kind, name and -D options of each entry, or "invalid". */
  function read(...entries: string[]): string[] {
    const out = execFileSync(
      "bash",
      [
        "-c",
        'source "$1"; shift; for v in "$@"; do if parse_variant "$v"; then echo "$kind $name $(variant_defs)"; else echo invalid; fi; done',
        "_",
        join(root, "bench", "gpu", "mmq-variant.sh"),
        ...entries,
      ],
      { encoding: "utf8" },
    );
    return out.trim().split("\n");
  }

  it("reads MMVQ entries by their mv name and MMQ entries as before", () => {
    expect(read("mv2r4:2:4", "o6j16:128:6:64:16")).toEqual([
      "mmvq mv2r4 -DGPTOSS_MMVQ_NWARPS=2 -DGPTOSS_MMVQ_RPB=4",
      "mmq o6j16 -DGPTOSS_MXV_NT=128 -DGPTOSS_MXV_OCC=6 -DGPTOSS_MXV_I=64 -DGPTOSS_MXV_JMAX=16",
    ]);
  });

  it("refuses MMVQ entries with other counts, other fields or a bad name", () => {
    expect(read("mv2r3:2:3", "mv:3:1", "mv2:2:2:2", "mv2:2", "mv-ok:8:8", "mv/x:2:2")).toEqual([
      "invalid",
      "invalid",
      "invalid",
      "invalid",
      "mmvq mv-ok -DGPTOSS_MMVQ_NWARPS=8 -DGPTOSS_MMVQ_RPB=8",
      "invalid",
    ]);
  });
});
