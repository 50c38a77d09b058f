/**
 * bench/gpu/mmq-best.sh picks the MoE kernel configuration that the GPU run (run.sh, MMQ_VARIANT=best)
 * installs for every later stage, on a lent machine where nobody reads the sweep first: a variant that
 * failed llama.cpp's own op check must never win however fast it is, and a variant must beat the base
 * over every sequence count (geometric mean), by 2%, to replace it. The fixtures are llama-batched-bench
 * and test-backend-ops output in their real formats.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const script = join(import.meta.dirname, "..", "bench", "gpu", "mmq-best.sh");
const PASS = "  12/12 tests passed\n  Backend CUDA0: OK\nexit 0\nFAIL lines: 0\n";
const FAILED = "  11/12 tests passed\n  Backend CUDA0: FAIL\nexit 1\nFAIL lines: 2\n";
// A crashed or empty check: nothing failed, because nothing ran.
const CRASHED = "exit 134\nFAIL lines: 0\n";
const NONE_RAN = "  0/0 tests passed\n  Backend CUDA0: OK\nexit 0\nFAIL lines: 0\n";

/** llama-batched-bench's table with decode tok/s (S_TG) `rates[B]` for each sequence count B. */
function benchTable(rates: Record<number, number>): string {
  const head =
    "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |\n" +
    "|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|\n";
  const rows = Object.entries(rates).map(
    ([b, tg]) =>
      `|   128 |    128 | ${b.padStart(4)} | ${String(256 * Number(b)).padStart(6)} |    1.000 | 10000.00 |    ` +
      `3.000 | ${tg.toFixed(2).padStart(8)} |    4.000 |  5000.00 |`,
  );
  return head + rows.join("\n") + "\n";
}

let sweep: string;
beforeEach(() => {
  sweep = mkdtempSync(join(tmpdir(), "mmq-sweep-"));
});
afterEach(() => rmSync(sweep, { recursive: true, force: true }));

function variant(name: string, rates: Record<number, number>, ops?: string, file = "bench.txt"): void {
  mkdirSync(join(sweep, name), { recursive: true });
  writeFileSync(join(sweep, name, file), benchTable(rates));
  if (ops !== undefined) writeFileSync(join(sweep, name, "ops.txt"), ops);
}
const best = (...names: string[]): string =>
  execFileSync("bash", [script, sweep, ...names], { encoding: "utf8" }).trim();
/** The pick among the one-column kernel's variants (BEST_TAG=-mv: the base's runs at their counts). */
const bestMmvq = (...names: string[]): string =>
  execFileSync("bash", [script, sweep, ...names], {
    encoding: "utf8",
    env: { ...process.env, BEST_TAG: "-mv" },
  }).trim();

describe("bench/gpu/mmq-best.sh", () => {
  it("picks the fastest variant that passed, by the geometric mean of its decode rates over the base's", () => {
    variant("base", { 8: 1000, 64: 3000, 256: 6000 });
    variant("small", { 8: 1100, 64: 3300, 256: 6600 }, PASS); // +10% everywhere
    variant("big", { 8: 900, 64: 4500, 256: 6000 }, PASS); // +33% at 64 only: mean 1.14
    expect(best()).toBe("big");
  });

  it("never picks a variant whose op check failed or did not run, however fast", () => {
    variant("base", { 8: 1000, 64: 3000 });
    variant("wrong", { 8: 3000, 64: 9000 }, FAILED);
    variant("unchecked", { 8: 3000, 64: 9000 });
    variant("crashed", { 8: 3000, 64: 9000 }, CRASHED);
    variant("empty", { 8: 3000, 64: 9000 }, NONE_RAN);
    variant("ok", { 8: 1100, 64: 3300 }, PASS);
    expect(best()).toBe("ok");
  });

  it("weighs against the mean of the base's runs, and only among the variants named", () => {
    variant("base", { 8: 1000, 64: 3000 });
    variant("base", { 8: 1200, 64: 3600 }, undefined, "bench-again.txt"); // the base measured after
    variant("fast", { 8: 1200, 64: 3600 }, PASS); // +9% on the mean of 1100 / 3300, +20% on the first
    variant("stale", { 8: 5000, 64: 9000 }, PASS); // left over from an earlier sweep
    expect(best("fast")).toBe("fast");
    expect(best("fast:128:4:64")).toBe("fast"); // a whole MMQ_VARIANTS entry names its variant
    expect(best()).toBe("stale");
    variant("slow", { 8: 1150, 64: 3400 }, PASS); // +4% on the first run alone, +3% on the mean
    expect(best("slow")).toBe("slow");
    variant("same", { 8: 1110, 64: 3320 }, PASS); // +11% on the first run, +1% on the mean
    expect(best("same")).toBe("base");
  });

  it("with BEST_TAG=-mv, weighs the MMVQ variants against the base's runs at their own counts", () => {
    variant("base", { 8: 1000, 64: 3000 });
    variant("base", { 1: 280 }, undefined, "bench-mv.txt");
    variant("base", { 1: 300 }, undefined, "bench-mv-again.txt");
    variant("mv4r2", { 1: 310 }, PASS); // +7% on the mean of 280 / 300, +11% on the first
    variant("mv2r4", { 1: 340 }, FAILED); // faster, but its op check failed
    variant("mv1r4", { 1: 295 }, PASS); // +2% on the first run only
    expect(bestMmvq("mv4r2:4:2", "mv2r4:2:4", "mv1r4:1:4")).toBe("mv4r2");
    expect(bestMmvq("mv1r4:1:4")).toBe("base");
    // Without the tag, the same variants have no sequence count in common with the base's table.
    expect(best("mv4r2")).toBe("base");
    rmSync(join(sweep, "base", "bench-mv.txt"));
    expect(bestMmvq("mv4r2")).toBe("base");
  });

  it("keeps the base when no variant beats it by 2%, or when the base was not measured", () => {
    variant("base", { 8: 1000, 64: 3000 });
    variant("same", { 8: 1010, 64: 3020 }, PASS);
    expect(best()).toBe("base");
    rmSync(join(sweep, "base"), { recursive: true });
    expect(best()).toBe("base");
  });
});
