/**
 * The GPU kernel sweep (bench/gpu/mmq-sweep.sh, sourced by run.sh with MMQ_SWEEP=1) and run.sh's
 * MMQ_VARIANT=best block run only on a lent GPU machine, where a shell bug costs minutes of a 30-minute
 * budget. test/gpu-sweep/harness.sh runs them here against test doubles (ninja, nvcc, the link,
 * test-backend-ops, llama-batched-bench, cuobjdump, nvidia-smi) in ten scenarios: a whole sweep of both
 * kernels, resuming, a call cut short, no MMVQ variants, a stale MMVQ result, another model's folder,
 * renumbered variants, a failing op check, an MMVQ pick alone, and new sequence counts. Each checks
 * what was built with which -D options, what was measured at which counts, the build tree's edited
 * files put back with their mtimes, the report, and the library the best block installs.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const harness = join(import.meta.dirname, "gpu-sweep", "harness.sh");
let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "gpu-sweep-"));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the GPU kernel sweep's shell logic, with test doubles", () => {
  it("passes every scenario's checks", () => {
    const r = spawnSync("bash", [harness], {
      encoding: "utf8",
      env: { ...process.env, SWEEP_DRY_OUT: out },
      timeout: 240_000,
    });
    const failed = r.stdout.split("\n").filter((l) => l.startsWith("  FAIL "));
    expect(failed).toEqual([]);
    expect(r.stdout).toMatch(/== (\d+) passed, 0 failed/);
    const passed = Number(/== (\d+) passed/.exec(r.stdout)?.[1]);
    expect(passed).toBeGreaterThan(200);
    expect(r.status).toBe(0);
  }, 300_000);
});
