/**
 * bench/gpu/mmq-regs.sh reports, without a GPU, what each MXFP4 MMQ kernel of a sweep variant costs in
 * registers and spills (ptxas), so that a lent GPU's minutes go to variants worth timing. These tests
 * compile one variant of the patched source (~40 s on two cores) where nvcc is installed, and check
 * what follows from the launch bounds, not from a given compiler's choices: occupancy 6 at 128 threads
 * leaves at most 65,536 / 768 = 85 registers a thread, occupancy 4 up to 128.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasTool } from "./helpers/tools.ts";

const script = join(import.meta.dirname, "..", "bench", "gpu", "mmq-regs.sh");
const hasNvcc = hasTool("nvcc");

type Kernel = { j: number; kind: string; registers: number; stack: number; spills: number };

function parse(out: string): { titles: string[]; kernels: Kernel[] } {
  const titles = out.split("\n").filter((l) => l.length > 0 && !l.startsWith(" "));
  const kernels = [
    ...out.matchAll(
      /^ {2}J = +(\d+) (checked|unchecked) +(\d+) registers, stack +(\d+) bytes, spill stores +(\d+) bytes$/gm,
    ),
  ].map((m) => ({ j: +m[1]!, kind: m[2]!, registers: +m[3]!, stack: +m[4]!, spills: +m[5]! }));
  return { titles, kernels };
}

describe("bench/gpu/mmq-regs.sh", () => {
  it("refuses an invalid variant before compiling anything", () => {
    const r = spawnSync("bash", [script, "bad:100:6:64"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("invalid variant bad:100:6:64");
  });

  it.skipIf(!hasNvcc)(
    "reports every MXFP4 tile the header has, with the variant's bound on the small ones only",
    () => {
      const out = execFileSync("bash", [script, "o6j16:128:6:64:16"], { encoding: "utf8" });
      const { titles, kernels } = parse(out);
      expect(titles).toEqual(["o6j16: 128 threads, occupancy 6, I 64 for J <= 16; above: the series' own"]);
      // The tiles of mmq-config-ampere.cuh for MXFP4 up to 64 columns, and no empty instance.
      const seen = kernels.map((k) => `${k.j}:${k.kind}`).sort();
      const want = [
        ...[8, 16, 32, 64].map((j) => `${j}:checked`),
        ...[8, 16, 24, 32, 40, 48, 64].map((j) => `${j}:unchecked`),
      ].sort();
      expect(seen).toEqual(want);
      // Occupancy 6 at 128 threads: 85 registers at most (the series' J = 16 kernels, at occupancy 4,
      // use 128: a variant whose -D options were lost fails here); above J = 16 the series' 128.
      for (const k of kernels) expect(k.registers).toBeLessThanOrEqual(k.j <= 16 ? 85 : 128);
    },
    300_000,
  );
});
