/**
 * Patches 0005 and 0006, built on the CPU and installed as `npm run build:cuda` installs them.
 *
 * Patch 0005 changes ggml-base's scheduler (native/patches/llama.cpp/0005-*.patch): with an eval
 * callback, a range that is the whole split is computed as the split itself, and the backend is
 * synchronised only for the callback. `npm run build:cuda` installs that libggml-base.so beside
 * node-llama-cpp's prebuilt binaries. This builds the patched ggml-base on the CPU (what the GPU build
 * compiles for it is the same C++), installs it the same way into a copy of node-llama-cpp's CPU
 * binaries, and runs llama.cpp's eval callback over the tiny model three ways (none, asking for nothing,
 * asking for the output as the block statistics do; test/ggml-base/eval-callback-check.cpp): the logits
 * must be bit for bit those of the prebuilt library, the callback must be handed every step's output
 * (equal to the logits returned), and the process must map one ggml-base. What a CPU cannot show: the
 * uid kept and the synchronisation left out, which only a GPU backend acts on (the GPU runs measure
 * them).
 *
 * Patch 0006 changes libllama: after a memory update that only copied KV buffers between streams (a
 * sequence moved by the native core's stream compaction), llama.cpp no longer reserves its worst-case
 * graph again. The same build makes libllama under node-llama-cpp's name (scripts/nlc-names.cmake),
 * installed into the same copy; test/ggml-base/stream-copy-check.cpp moves a sequence between streams
 * every other step: the logits must be those of a sequence never moved and of the prebuilt library, the
 * prebuilt library must reserve a graph at every move (what the patch takes away) and the patched one
 * none, and the process must map the installed libllama alone.
 *
 * Needs cmake and g++ (skipped, saying so, without them).
 */
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparePatchedSource } from "./helpers/patched-source.ts";
import { hasTool } from "./helpers/tools.ts";

const root = join(import.meta.dirname, "..");
const prebuilt = join(root, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64");
const missing = ["cmake", "g++"].filter((t) => !hasTool(t));
if (!existsSync(prebuilt)) missing.push("node-llama-cpp's linux-x64 binaries");
if (missing.length > 0) console.warn(`ggml-base-patch.test.ts: skipped, missing ${missing.join(", ")}`);

interface CopyCheck {
  moved: string[];
  still: string[];
  moves: number;
  reservesOnMove: number;
  reservesOtherwise: number;
  llamas: string[];
}

interface Check {
  none: string[];
  nothing: string[];
  output: string[];
  handed: number;
  handedMatches: boolean;
  bases: string[];
}

/** node-llama-cpp's file for a library (its name carries the release: libllama.v0.5.0.so). */
const prebuiltFile = (pattern: RegExp): string =>
  join(prebuilt, readdirSync(prebuilt).find((f) => pattern.test(f)) ?? "missing");
/** Its names without lib and .so, as build-ggml-cuda.sh reads them (llama.v0.5.0, ggml.v0.5.0). */
const nlcName = (file: string): string => file.replace(/^.*\/lib/, "").replace(/\.so$/, "");
const llamaName = existsSync(prebuilt) ? nlcName(prebuiltFile(/^libllama\..*\.so$/)) : "";
const ggmlName = existsSync(prebuilt) ? nlcName(prebuiltFile(/^libggml\..*\.so$/)) : "";

let work: string;
let installed: string;
/**
 * One of the checks built in beforeAll, over the tiny model: a "-prebuilt" binary runs over
 * node-llama-cpp's folder, a "-patched" one over the copy with the built libraries (their RUNPATH).
 */
const run = <T>(bin: string, ...args: string[]): T =>
  JSON.parse(
    execFileSync(
      join(work, bin),
      [process.env["GPTOSS_TINY_MODEL"]!, bin.endsWith("-patched") ? installed : prebuilt, ...args],
      { encoding: "utf8" },
    ),
  ) as T;

describe.skipIf(missing.length > 0)(
  "patches 0005 and 0006: ggml-base and libllama built with them, installed as build:cuda does",
  () => {
    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "ggml-base-patch-"));
      const { src } = preparePatchedSource(join(work, "ggml"));
      const build = join(work, "build");
      const generator = hasTool("ninja") ? ["-G", "Ninja"] : [];
      execFileSync(
        "cmake",
        ["-S", src, "-B", build, ...generator, "-DCMAKE_BUILD_TYPE=Release", "-DGGML_BACKEND_DL=ON"]
          .concat([
            "-DGGML_NATIVE=OFF",
            "-DGGML_OPENMP=OFF",
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
          ])
          .concat(["-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_SERVER=OFF"])
          // node-llama-cpp's names, as build-ggml-cuda.sh gives them (its CPU package's here)
          .concat([`-DCMAKE_PROJECT_INCLUDE=${join(root, "scripts", "nlc-names.cmake")}`])
          .concat([`-DGPTOSS_LLAMA_NAME=${llamaName}`, `-DGPTOSS_GGML_NAME=${ggmlName}`]),
        { stdio: "ignore" },
      );
      // Asynchronous: the build takes minutes on two cores, and a blocked worker misses vitest's calls.
      await promisify(execFile)("cmake", ["--build", build, "--target", "ggml-base", "llama", "-j", "2"], {
        maxBuffer: 64 << 20,
      });
      // node-llama-cpp's CPU binaries, with the patched base and libllama in place of theirs (the files).
      installed = join(work, "nlc");
      cpSync(prebuilt, installed, { recursive: true });
      for (const lib of ["libggml-base.so", `lib${llamaName}.so`]) {
        copyFileSync(realpathSync(join(build, "bin", lib)), join(installed, lib));
      }
      // One program, linked against the prebuilt files, run over either folder (its RUNPATH).
      const source = join(root, "test", "ggml-base", "eval-callback-check.cpp");
      const copySource = join(root, "test", "ggml-base", "stream-copy-check.cpp");
      for (const [bin, dir, src] of [
        ["check-prebuilt", prebuilt, source],
        ["check-patched", installed, source],
        ["copy-prebuilt", prebuilt, copySource],
        ["copy-patched", installed, copySource],
      ] as const) {
        execFileSync("g++", [
          ...["-O1", "-std=c++17", "-Wall", "-Werror", "-I", join(root, "native", "include"), src, "-o"],
          ...[join(work, bin), prebuiltFile(/^libllama\..*\.so$/), prebuiltFile(/^libggml\..*\.so$/)],
          ...[join(prebuilt, "libggml-base.so"), `-Wl,-rpath,${dir}`],
        ]);
      }
    }, 600_000);
    afterAll(() => {
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    });

    it("gives the prebuilt library's logits bit for bit, hands the callback every output, maps one base", () => {
      const before = run<Check>("check-prebuilt");
      const after = run<Check>("check-patched");
      for (const c of [before, after]) {
        // The callback, asking for nothing or for the output, changes no logit.
        expect(c.nothing).toEqual(c.none);
        expect(c.output).toEqual(c.none);
        expect(new Set(c.none).size).toBe(4); // four different steps, not one value four times
        expect(c.handed).toBe(4);
        expect(c.handedMatches).toBe(true);
      }
      expect(after.none).toEqual(before.none);
      expect(before.bases).toEqual([join(prebuilt, "libggml-base.so")]);
      expect(after.bases).toEqual([join(installed, "libggml-base.so")]);
    });

    it("0006: a move between streams changes no logit, and reserves no graph with the patch", () => {
      const before = run<CopyCheck>("copy-prebuilt", "8");
      const after = run<CopyCheck>("copy-patched", "8");
      for (const c of [before, after]) {
        expect(c.moves).toBe(4); // every other of 8 steps
        expect(c.moved).toHaveLength(8);
        expect(new Set(c.moved).size).toBe(8); // eight different steps
        expect(c.moved).toEqual(c.still); // the moved sequence's logits are the unmoved one's
        expect(c.reservesOtherwise).toBe(0);
      }
      expect(after.moved).toEqual(before.moved);
      expect(before.reservesOnMove).toBe(before.moves); // llama.cpp as released: one a move
      expect(after.reservesOnMove).toBe(0);
      expect(before.llamas).toEqual([prebuiltFile(/^libllama\..*\.so$/)]);
      expect(after.llamas).toEqual([join(installed, `lib${llamaName}.so`)]);
    });
  },
);
