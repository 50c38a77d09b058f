/**
 * bench/gpu/moe-grouped.sh (run.sh's MOE_GROUPED_AB=1: patch 0007's kernel checked and timed) runs only
 * on a lent GPU machine, where a shell bug costs minutes of a 30-minute budget. Here it runs against
 * test doubles of test-backend-ops and llama-batched-bench (shell scripts that log their arguments and
 * environment). The check that a CUDA library can load (scripts/cuda-module.sh) is tested with the
 * build script that uses it, in build-ggml-cuda.test.ts.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gpu-moe-grouped-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Test double of test-backend-ops: logs each call, passes (or fails with FAKE_OPS_FAIL=1) the op
// check, and times one case at a figure that depends on the kernel's switches.
const fakeOps = `#!/usr/bin/env bash
echo "$* | MAX=\${GGML_CUDA_MOE_GROUPED_MAX-unset} NCOLS=\${GGML_CUDA_MOE_GROUPED_NCOLS-unset} ROWS=\${GGML_CUDA_MOE_GROUPED_ROWS-unset}" >>"$FAKE_LOG"
if [[ $1 == perf ]]; then
  echo "  MUL_MAT_ID(type_a=mxfp4,n=64): 100 runs - \${GGML_CUDA_MOE_GROUPED_MAX:-0}\${GGML_CUDA_MOE_GROUPED_NCOLS:-}.5 us/run"
  exit 0
fi
echo "Testing 1 devices"
echo "Backend CUDA0: OK"
if [[ \${FAKE_OPS_FAIL:-0} == 1 ]]; then echo "  MUL_MAT_ID(type_a=mxfp4,n=9): [1;31mFAIL[0m"; echo "  1/2 tests passed"; exit 1; fi
echo "  2/2 tests passed"
`;
// Test double of llama-batched-bench: decode tok/s (S_TG) 100 a sequence count with the kernel off,
// 80 with it on.
const fakeBench = `#!/usr/bin/env bash
echo "$* | MAX=\${GGML_CUDA_MOE_GROUPED_MAX-unset}" >>"$FAKE_LOG"
tg=100; [[ \${GGML_CUDA_MOE_GROUPED_MAX:-0} != 0 ]] && tg=80
echo "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |"
echo "|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|"
for b in \${FAKE_NPL//,/ }; do
  echo "|   128 |    128 |   $b |   4096 |    0.100 |  1000.00 |    1.000 |   $tg.00 |    1.100 |   100.00 |"
done
`;

interface Run {
  out: string;
  log: string[];
  md: string;
}

/** Sources budget.sh and moe-grouped.sh as run.sh does, in `work` (kept between runs of a scenario). */
function runStage(name: string, opts: { patched?: boolean; failOps?: boolean; work?: string } = {}): Run {
  const base = join(dir, name);
  const bin = join(base, "bin");
  const work = opts.work ?? join(base, "work");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "test-backend-ops"), fakeOps);
  writeFileSync(join(bin, "llama-batched-bench"), fakeBench);
  chmodSync(join(bin, "test-backend-ops"), 0o755);
  chmodSync(join(bin, "llama-batched-bench"), 0o755);
  // The stage tells a build with patch 0007 by the switch's name in the library.
  writeFileSync(
    join(bin, "libggml-cuda.so"),
    opts.patched === false ? "no switch" : "..GGML_CUDA_MOE_GROUPED_MAX..",
  );
  const log = join(base, "calls.log");
  const script = [
    "set -uo pipefail",
    `T0=$(date +%s) BUDGET=600 TAG=test RUN_LOG=run.log`,
    `WORK=${work} RES=${work}/res LOGS=${work}/logs OUT=${work}/out BIN=${bin} MODEL=/m.gguf MODEL_SIZE=20b`,
    'mkdir -p "$RES" "$LOGS" "$OUT"',
    `source ${join(root, "bench", "gpu", "budget.sh")}`,
    `source ${join(root, "bench", "gpu", "moe-grouped.sh")}`,
  ].join("\n");
  const r = spawnSync("bash", ["-c", script], {
    encoding: "utf8",
    env: {
      ...process.env,
      FAKE_LOG: log,
      FAKE_NPL: "16,32,64",
      FAKE_OPS_FAIL: opts.failOps ? "1" : "0",
    },
  });
  expect(r.status).toBe(0);
  const md = join(work, "res", "moe-grouped.md");
  return {
    out: r.stdout + r.stderr,
    log: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [],
    md: existsSync(md) ? readFileSync(md, "utf8") : "",
  };
}

describe("bench/gpu/moe-grouped.sh, with test doubles", () => {
  it("checks the kernel switched on, times it off and on, and sums the decode rates", () => {
    const r = runStage("full");
    const ops = r.log.filter((l) => l.startsWith("-b CUDA0 -o MUL_MAT_ID"));
    expect(ops).toEqual(["-b CUDA0 -o MUL_MAT_ID -p mxfp4 | MAX=64 NCOLS=unset ROWS=unset"]);
    const perf = r.log.filter((l) => l.startsWith("perf "));
    expect(perf.map((l) => l.split(" | ")[1])).toEqual([
      "MAX=0 NCOLS=unset ROWS=unset",
      "MAX=64 NCOLS=unset ROWS=unset",
      "MAX=64 NCOLS=8 ROWS=unset",
      "MAX=64 NCOLS=16 ROWS=unset",
      "MAX=64 NCOLS=unset ROWS=32",
      "MAX=64 NCOLS=16 ROWS=32",
      "MAX=128 NCOLS=unset ROWS=unset",
    ]);
    const bench = r.log.filter((l) => l.startsWith("-m "));
    expect(bench.map((l) => l.split(" | ")[1])).toEqual(["MAX=0", "MAX=64", "MAX=0", "MAX=64"]);
    expect(bench[0]).toContain("-npl 16,32,64");
    // 3 counts x 2 rounds: on 6 x 80, off 6 x 100
    expect(r.md).toContain("on 480, off 600 (on/off 0.800)");
    expect(r.md).toContain("2/2 tests passed");
    expect(r.md).toContain("64.5 us/run"); // the "on" time
    expect(r.out).not.toContain("FAILED");
  });

  it("measures nothing again on a machine that has its results (a call made again)", () => {
    const work = join(dir, "resume", "work");
    runStage("resume", { work });
    const again = runStage("resume-2", { work });
    expect(again.log).toEqual([]);
    expect(again.md).toContain("on 480, off 600");
  });

  it("starts a stage again from nothing after a call cut it short (a .tmp left behind)", () => {
    const work = join(dir, "cut", "work");
    mkdirSync(join(work, "moe-grouped"), { recursive: true });
    // What a cut call leaves: an op check done, half of each timing stage's file.
    writeFileSync(join(work, "moe-grouped", "ops.txt"), "  2/2 tests passed\nexit 0\nFAIL lines: 0\n");
    writeFileSync(
      join(work, "moe-grouped", "perf.txt.tmp"),
      "== off stale\n  MUL_MAT_ID: 1 runs - 999.5 us/run\n",
    );
    writeFileSync(
      join(work, "moe-grouped", "bench-20b.txt.tmp"),
      "== on round 1 (stale)\n|   128 |    128 |   16 |   4096 |    0.1 |  1000.0 |    1.0 |   5000.00 |    1.1 |   100.0 |\n",
    );
    const r = runStage("cut", { work });
    expect(r.log.filter((l) => l.startsWith("-b CUDA0"))).toEqual([]); // the op check is not made again
    expect(r.md).not.toContain("stale");
    expect(r.md).not.toContain("999.5");
    expect(r.md).toContain("on 480, off 600 (on/off 0.800)");
  });

  it("says so when the op check fails, and still times the kernel", () => {
    const r = runStage("failing", { failOps: true });
    expect(r.out).toContain("moe-grouped: the op check FAILED");
    expect(r.out).toContain("FAIL");
    expect(r.md).toContain("1/2 tests passed");
  });

  it("runs nothing on a build without patch 0007", () => {
    const r = runStage("unpatched", { patched: false });
    expect(r.log).toEqual([]);
    expect(r.out).toContain("this build has no patch 0007");
    expect(r.md).toBe("");
  });
});
