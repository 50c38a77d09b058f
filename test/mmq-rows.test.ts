/**
 * bench/gpu/mmq-rows.sh rewrites llama.cpp's mmq.cuh so that the GPU sweep's "exact rows" variants
 * (bench/gpu/mmq-sweep.sh, an MMQ_VARIANTS entry ending in :r64), compiled with
 * -DGPTOSS_MXV_EXACT_ROWS, run the unchecked MXFP4 MoE kernels where every block's rows are in the
 * matrix. Every file of the build includes mmq.cuh, so without the define it must mean exactly what it
 * meant. Checked on the real header of the source the CUDA build compiles (scripts/build-ggml-cuda.sh
 * --source-only, as test/llama-patches.test.ts prepares it), with the C preprocessor (cpp) as in
 * test/mmq-config.test.ts; the #include lines are left out on both sides (no CUDA headers here).
 * Also: the sweep's parse_variant and describe for entries with the r64 flag.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const script = join(root, "bench", "gpu", "mmq-rows.sh");
const sweep = join(root, "bench", "gpu", "mmq-sweep.sh");

let work: string;
let original: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "mmq-rows-"));
  const log = execFileSync("bash", [join(root, "scripts", "build-ggml-cuda.sh"), "--source-only"], {
    encoding: "utf8",
    env: { ...process.env, GGML_CUDA_DIR: join(work, "ggml-cuda") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const src = log.trim().split("\n").pop()!;
  original = readFileSync(join(src, "ggml", "src", "ggml-cuda", "mmq.cuh"), "utf8");
}, 120_000);
afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function rewrite(text: string): string {
  const file = join(work, "orig.cuh");
  writeFileSync(file, text);
  return execFileSync("bash", [script, file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
/** What the preprocessor makes of `text` (its #include lines left out) with these -D options. */
function expand(text: string, defs: string[] = []): string {
  const file = join(work, "in.cuh");
  writeFileSync(file, text.replace(/^[ \t]*#[ \t]*include\b.*$/gm, ""));
  return execFileSync("cpp", ["-P", ...defs, file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
/** The lines of the block that opens at the line equal to `head` (trimmed) after `after`, to its close. */
function block(text: string, after: string, head: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l, i) => i > lines.indexOf(after) && l.trim() === head);
  expect(start, head).toBeGreaterThan(0);
  const indent = lines[start]!.match(/^\s*/)![0];
  const end = lines.findIndex((l, i) => i > start && l === `${indent}}`);
  return lines.slice(start, end + 1).map((l) => l.trim());
}
const LOOP = "for (int J = 8; J <= 128 && ntiles_J_best > 1; J += 8) {";
const BRANCH =
  "if (args.nrows_x % 128 == 0 || (type == GGML_TYPE_MXFP4 && args.ids_dst != nullptr && gptoss_mmq_exact_rows(type, args))) {";

describe("bench/gpu/mmq-rows.sh", () => {
  it("leaves the real mmq.cuh meaning what it meant without the define", () => {
    const edited = rewrite(original);
    expect(edited).not.toBe(original);
    expect(edited).toContain("#if defined(GPTOSS_MXV_EXACT_ROWS)");
    const plain = expand(original);
    expect(plain).toContain("void mul_mat_q_case(");
    expect(expand(edited)).toBe(plain);
    expect(plain).not.toContain("gptoss");
  });

  it("with the define, mul_mat_q_case takes the unchecked kernels for MXFP4 MoE calls whose rows fill every tile", () => {
    const out = expand(rewrite(original), ["-DGPTOSS_MXV_EXACT_ROWS"]);
    const flat = out.replace(/\s+/g, " ");
    expect(flat).toContain(BRANCH.replace(/\s+/g, " "));
    // The branch is the unchecked one; the other keeps the fallback.
    expect(flat).toMatch(
      /gptoss_mmq_exact_rows\(type, args\)\)\) \{ constexpr bool fallback = false; mul_mat_q_switch_J<type, fallback>\(ctx, args, stream\); \} else \{ constexpr bool fallback = true;/,
    );
    // Only mul_mat_q_case's test changed, plus the inserted function.
    const plain = expand(original).split("\n");
    const lines = out.split("\n");
    const added = lines.filter((l) => !plain.includes(l));
    expect(added[0]).toBe(
      "static inline bool gptoss_mmq_exact_rows(const ggml_type type, const mmq_args & args) {",
    );
    expect(plain.filter((l) => !lines.includes(l)).map((l) => l.trim())).toEqual([
      "if (args.nrows_x % 128 == 0) {",
    ]);
    // The inserted function's loop is switch_J's for fallback = false, keeping the I of the J it picks.
    const helper = block(
      out,
      "static inline bool gptoss_mmq_exact_rows(const ggml_type type, const mmq_args & args) {",
      LOOP,
    );
    const switchJ = block(
      out,
      "void mul_mat_q_switch_J(ggml_backend_cuda_context & ctx, const mmq_args & args, cudaStream_t stream) {",
      LOOP,
    );
    expect(switchJ.join("\n")).toContain("J_best = J;");
    const expected = switchJ
      .map((l) =>
        l.replace(
          "ggml_cuda_mmq_get_config(type, J, fallback, cc)",
          "ggml_cuda_mmq_get_config(type, J, false, cc)",
        ),
      )
      .map((l) => l.replace("J_best = J;", "I_best = config.I;"));
    expect(helper.map((l) => l.replace(/\s+/g, " "))).toEqual(expected.map((l) => l.replace(/\s+/g, " ")));
    expect(flat).toContain("return I_best > 0 && args.nrows_x % I_best == 0;");
  });

  it("refuses a header whose lines it does not recognise, printing nothing", () => {
    const cases: [string, string, RegExp][] = [
      [
        "        if (mmq_get_nbytes_shared(config, cc) > smpbo) {\n",
        "",
        /line not found.*mmq_get_nbytes_shared/,
      ],
      [
        "    if (args.nrows_x % 128 == 0) {",
        "    if (args.nrows_x % 256 == 0) {",
        /line not found.*nrows_x % 128/,
      ],
      ["const int32_t * ids_dst;", "const int32_t * ids;", /mmq_args lacks ids_dst/],
    ];
    for (const [from, to, message] of cases) {
      expect(original).toContain(from);
      writeFileSync(join(work, "bad.cuh"), original.replace(from, to));
      const bad = spawnSync("bash", [script, join(work, "bad.cuh")], { encoding: "utf8" });
      expect(bad.status, from).toBe(1);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toMatch(message);
    }
  });
});

/** parse_variant (and describe) of bench/gpu/mmq-sweep.sh on each entry: "bad", or what it set. */
function parse(...entries: string[]): string[] {
  const out = execFileSync(
    "bash",
    [
      "-c",
      `source "$1"; shift; for v in "$@"; do
         if parse_variant "$v"; then echo "$name|$nt|$occ|$I|$jmax|$nt2|$occ2|$I2|$rows|$(describe)"; else echo bad; fi
       done`,
      "parse",
      sweep,
      ...entries,
    ],
    { encoding: "utf8", env: { ...process.env, MMQ_SWEEP_FUNCTIONS_ONLY: "1", MMQ_SW: work } },
  );
  return out.trimEnd().split("\n");
}

describe("bench/gpu/mmq-sweep.sh parse_variant with the r64 flag", () => {
  it("takes r64 as an optional last field after each form, and sets rows for it only", () => {
    expect(
      parse(
        "o6r64:128:6:64:r64",
        "o6:128:6:64",
        "j16:128:6:64:16:r64",
        "two:128:6:64:16:128:5:64:r64",
        "two:128:6:64:16:128:5:64",
      ),
    ).toEqual([
      "o6r64|128|6|64|||||r64|128 threads, occupancy 6, I 64; exact rows (unchecked kernels where 64 | rows)",
      "o6|128|6|64||||||128 threads, occupancy 6, I 64", // rows does not carry over from the entry before
      "j16|128|6|64|16||||r64|128 threads, occupancy 6, I 64 for J <= 16; above: the series' own; exact rows (unchecked kernels where 64 | rows)",
      "two|128|6|64|16|128|5|64|r64|128 threads, occupancy 6, I 64 for J <= 16; above: 128 threads, occupancy 5, I 64; exact rows (unchecked kernels where 64 | rows)",
      "two|128|6|64|16|128|5|64||128 threads, occupancy 6, I 64 for J <= 16; above: 128 threads, occupancy 5, I 64",
    ]);
  });

  it("accepts the series' own configuration with exact rows alone (r64:128:4:64:r64)", () => {
    expect(parse("r64:128:4:64:r64", "r64:128:4:64")).toEqual([
      "r64|128|4|64|||||r64|128 threads, occupancy 4, I 64; exact rows (unchecked kernels where 64 | rows)",
      "r64|128|4|64||||||128 threads, occupancy 4, I 64",
    ]);
  });

  it("rejects r64 anywhere but last, twice, alone, misspelt, or on an invalid entry", () => {
    const bad = [
      "x:128:4:64:r64:16",
      "x:128:4:64:r64:r64",
      "x:r64",
      "x:128:4:r64",
      "x:128:4:64:r32",
      "x:128:4:64:R64",
      "x:128:4:64:16:r64x",
      "x:128:4:64:16:128:r64",
      "x:128:4:64:16:128:5:64:r64:r64",
      "base:128:4:64:r64",
      "x:128:4:32:r64",
      "x:128:4:64:4:r64",
    ];
    expect(parse(...bad)).toEqual(bad.map(() => "bad"));
  });
});
