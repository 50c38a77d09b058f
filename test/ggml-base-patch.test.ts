/**
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
 * them). Needs cmake and g++ (skipped, saying so, without them).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preparePatchedSource } from "./helpers/patched-source.ts";
import { hasTool } from "./helpers/tools.ts";

const root = join(import.meta.dirname, "..");
const prebuilt = join(root, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64");
const missing = ["cmake", "g++"].filter((t) => !hasTool(t));
if (!existsSync(prebuilt)) missing.push("node-llama-cpp's linux-x64 binaries");
if (missing.length > 0) console.warn(`ggml-base-patch.test.ts: skipped, missing ${missing.join(", ")}`);

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

let work: string;
let installed: string;
const run = (bin: string): Check =>
  JSON.parse(
    execFileSync(
      join(work, bin),
      [process.env["GPTOSS_TINY_MODEL"]!, bin === "check-patched" ? installed : prebuilt],
      {
        encoding: "utf8",
      },
    ),
  ) as Check;

describe.skipIf(missing.length > 0)(
  "patch 0005: ggml-base built with it, installed as build:cuda does",
  () => {
    beforeAll(() => {
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
          .concat(["-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_SERVER=OFF"]),
        { stdio: "ignore" },
      );
      execFileSync("cmake", ["--build", build, "--target", "ggml-base", "-j", "2"], { stdio: "ignore" });
      // node-llama-cpp's CPU binaries, with the patched base in place of theirs (the file, not the link).
      installed = join(work, "nlc");
      cpSync(prebuilt, installed, { recursive: true });
      copyFileSync(realpathSync(join(build, "bin", "libggml-base.so")), join(installed, "libggml-base.so"));
      // One program, linked against the prebuilt files, run over either folder (its RUNPATH).
      const source = join(root, "test", "ggml-base", "eval-callback-check.cpp");
      for (const [bin, dir] of [
        ["check-prebuilt", prebuilt],
        ["check-patched", installed],
      ] as const) {
        execFileSync("g++", [
          ...["-O1", "-std=c++17", "-Wall", "-Werror", "-I", join(root, "native", "include"), source, "-o"],
          ...[join(work, bin), prebuiltFile(/^libllama\..*\.so$/), prebuiltFile(/^libggml\..*\.so$/)],
          ...[join(prebuilt, "libggml-base.so"), `-Wl,-rpath,${dir}`],
        ]);
      }
    }, 240_000);
    afterAll(() => {
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    });

    it("gives the prebuilt library's logits bit for bit, hands the callback every output, maps one base", () => {
      const before = run("check-prebuilt");
      const after = run("check-patched");
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
  },
);
