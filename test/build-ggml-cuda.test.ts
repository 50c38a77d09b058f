/**
 * scripts/build-ggml-cuda.sh (`npm run build:cuda`) past its source step, on a machine without CUDA:
 * `nvidia-smi`, `nvcc`, `cmake` and `ninja` are test doubles (shell scripts on a PATH of their own) that
 * report GPUs, record how cmake was called and "build" a file. What is real: the script's logic (which
 * architectures it asks for, when it starts a build folder again, how it installs and keeps the
 * original), the git bundle clone and the patch series. The CUDA compile itself runs on the GPU
 * machines (bench/gpu/setup.sh, same flags).
 */
import { execFileSync, spawnSync, type ExecFileSyncOptions } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const script = join(import.meta.dirname, "..", "scripts", "build-ggml-cuda.sh");
/** How many patches the series has: the script reports the number it applied. */
const seriesLength = readdirSync(join(import.meta.dirname, "..", "native", "patches", "llama.cpp")).filter(
  (f) => f.endsWith(".patch"),
).length;
/** The real tools the script uses, linked into the doubles' PATH (which leaves out any real ninja). */
const TOOLS = ["dirname", "git", "awk", "cat", "sha256sum", "cut", "rm", "mkdir", "basename", "sed", "tr"];
TOOLS.push("sort", "paste", "head", "grep", "cp", "mv", "nproc", "ln", "ldd");
/** The check that a built CUDA library can load, which the script runs before installing it. */
const moduleCheck = join(import.meta.dirname, "..", "scripts", "cuda-module.sh");

let work: string;
let bin: string;
let install: string;
let cmakeLog: string;

function fake(name: string, body: string): void {
  const file = join(bin, name);
  writeFileSync(file, `#!/bin/bash\n${body}\n`);
  chmodSync(file, 0o755);
}

function run(...args: string[]): string {
  return runWith({}, ...args);
}

function runWith(extraEnv: Record<string, string>, ...args: string[]): string {
  const options: ExecFileSyncOptions = {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...extraEnv,
      PATH: bin,
      HOME: work,
      GGML_CUDA_DIR: join(work, "cache"),
      GGML_CUDA_INSTALL_DIR: install,
      CMAKE_LOG: cmakeLog,
      CUDA_HOME: join(work, "no-cuda-here"),
      JOBS: "1",
    },
  };
  return execFileSync("/bin/bash", [script, ...args], options) as string;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "build-ggml-cuda-"));
  bin = join(work, "bin");
  install = join(work, "node-llama-cpp-cuda");
  cmakeLog = join(work, "cmake.log");
  mkdirSync(bin);
  mkdirSync(install);
  for (const tool of TOOLS) {
    const real = execFileSync("/bin/bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
    symlinkSync(real, join(bin, tool));
  }
  // Test doubles: two kinds of GPU (one twice), a compiler, and a cmake that records its calls, writes
  // the cache a configure writes (with the generator it was given) and "builds" the library.
  fake("nvidia-smi", 'printf "9.0\\n8.6\\n9.0\\n"');
  fake("nvcc", "exit 0");
  fake(
    "cmake",
    [
      'echo "$*" >>"$CMAKE_LOG"',
      'if [[ "$1" == --build ]]; then',
      '  mkdir -p "$2/bin" && echo "built by cmake $$" >"$2/bin/libggml-cuda.so"',
      // FAKE_CUDA_SO: a real library to "build" instead (the load check reads it)
      '  [[ -n "$FAKE_CUDA_SO" ]] && cp "$FAKE_CUDA_SO" "$2/bin/libggml-cuda.so"',
      // ggml-base as CMake lays it out: the versioned file behind two links.
      '  echo "base built by cmake $$" >"$2/bin/libggml-base.so.0.9.9"',
      '  ln -sf libggml-base.so.0.9.9 "$2/bin/libggml-base.so.0" && ln -sf libggml-base.so.0 "$2/bin/libggml-base.so"',
      // libllama under the name the configure was given (scripts/nlc-names.cmake's OUTPUT_NAME)
      '  echo "llama built by cmake $$" >"$2/bin/lib$(cat "$2/llama-name").so"',
      "  exit 0",
      "fi",
      'gen="Unix Makefiles"; build=""; name=llama',
      'while (($#)); do case "$1" in -G) gen="$2"; shift 2 ;; -B) build="$2"; shift 2 ;;',
      '  -DGPTOSS_LLAMA_NAME=?*) name="${1#*=}"; shift ;; *) shift ;; esac; done',
      'mkdir -p "$build" && echo "CMAKE_GENERATOR:INTERNAL=$gen" >"$build/CMakeCache.txt" && echo "$name" >"$build/llama-name"',
    ].join("\n"),
  );
  writeFileSync(join(install, "libggml-cuda.so"), "prebuilt");
  writeFileSync(join(install, "libggml-base.so"), "prebuilt base");
  // node-llama-cpp's own names, which carry its release
  writeFileSync(join(install, "libllama.cuda.v0.5.0.so"), "prebuilt llama");
  writeFileSync(join(install, "libggml.cuda.v0.5.0.so"), "prebuilt ggml");
}, 30_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const configureCalls = (): string[] =>
  readFileSync(cmakeLog, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("-S "));

describe("build-ggml-cuda.sh with test doubles for the CUDA tools", () => {
  it("builds for every kind of GPU present (Hopper as 90a), installs the result and keeps the original", () => {
    const out = run();
    expect(out).toContain("building for sm_86;90a (nvidia-smi)");
    const configure = configureCalls();
    expect(configure).toHaveLength(1);
    expect(configure[0]).toContain("-DCMAKE_CUDA_ARCHITECTURES=86;90a");
    expect(configure[0]).toContain("-DGGML_BACKEND_DL=ON");
    expect(configure[0]).toContain("-DGGML_NATIVE=OFF");
    expect(configure[0]).toContain("-DGGML_OPENMP=OFF"); // the installed base must not need libgomp
    expect(configure[0]).not.toContain("-G Ninja"); // none on this PATH
    // The libraries get node-llama-cpp's names and sonames, read from its folder.
    expect(configure[0]).toMatch(/-DCMAKE_PROJECT_INCLUDE=\S*\/scripts\/nlc-names\.cmake /);
    expect(configure[0]).toContain(
      "-DGPTOSS_LLAMA_NAME=llama.cuda.v0.5.0 -DGPTOSS_GGML_NAME=ggml.cuda.v0.5.0",
    );
    const installed = readFileSync(join(install, "libggml-cuda.so"), "utf8");
    expect(installed).toMatch(/^built /);
    expect(readFileSync(join(install, "libggml-cuda.so.prebuilt"), "utf8")).toBe("prebuilt");
    // ggml-base from the same build (patch 0005 is in it), as a file, not a link into the build folder.
    const buildCall = readFileSync(cmakeLog, "utf8")
      .split("\n")
      .find((l) => l.startsWith("--build "));
    expect(buildCall).toMatch(/--target ggml-base ggml-cuda llama /);
    const base = readFileSync(join(install, "libggml-base.so"), "utf8");
    expect(base).toMatch(/^base built by cmake /);
    expect(lstatSync(join(install, "libggml-base.so")).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(install, "libggml-base.so.prebuilt"), "utf8")).toBe("prebuilt base");
    // libllama too (patch 0006), in node-llama-cpp's file; its libggml stays the prebuilt one.
    const llama = readFileSync(join(install, "libllama.cuda.v0.5.0.so"), "utf8");
    expect(llama).toMatch(/^llama built by cmake /);
    expect(readFileSync(join(install, "libllama.cuda.v0.5.0.so.prebuilt"), "utf8")).toBe("prebuilt llama");
    expect(readFileSync(join(install, "libggml.cuda.v0.5.0.so"), "utf8")).toBe("prebuilt ggml");
    expect(out).toContain("libggml-base.so and libllama.cuda.v0.5.0.so (sm_86;90a");
    expect(seriesLength).toBeGreaterThan(0);
    expect(out).toContain(`, ${seriesLength} patches)`);

    // Again, with --arch: the original stays the one npm installed, not the first build.
    run("--arch", "89");
    expect(configureCalls()[1]).toContain("-DCMAKE_CUDA_ARCHITECTURES=89");
    expect(readFileSync(join(install, "libggml-cuda.so"), "utf8")).not.toBe(installed);
    expect(readFileSync(join(install, "libggml-cuda.so.prebuilt"), "utf8")).toBe("prebuilt");
    expect(readFileSync(join(install, "libggml-base.so"), "utf8")).not.toBe(base);
    expect(readFileSync(join(install, "libggml-base.so.prebuilt"), "utf8")).toBe("prebuilt base");
    expect(readFileSync(join(install, "libllama.cuda.v0.5.0.so"), "utf8")).not.toBe(llama);
    expect(readFileSync(join(install, "libllama.cuda.v0.5.0.so.prebuilt"), "utf8")).toBe("prebuilt llama");
  }, 60_000);

  it("starts the build folder again when Ninja came or went since it was configured", () => {
    const marker = join(work, "cache", "build", "left-from-before");
    writeFileSync(marker, "");
    fake("ninja", "exit 0");
    try {
      run("--arch", "90a", "--no-install");
      expect(existsSync(marker)).toBe(false);
      expect(configureCalls().at(-1)).toContain("-G Ninja");
      // Same generator: the folder is kept (a second build only relinks).
      writeFileSync(marker, "");
      run("--arch", "90a", "--no-install");
      expect(existsSync(marker)).toBe(true);
    } finally {
      rmSync(join(bin, "ninja"));
    }
  }, 60_000);

  it("refuses to install where node-llama-cpp's libllama is missing, before building", () => {
    const other = join(work, "no-llama-here");
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, "libggml-cuda.so"), "prebuilt");
    const before = configureCalls().length;
    expect(() =>
      execFileSync("/bin/bash", [script, "--arch", "90a"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: bin,
          HOME: work,
          GGML_CUDA_DIR: join(work, "cache"),
          GGML_CUDA_INSTALL_DIR: other,
          CMAKE_LOG: cmakeLog,
        },
      }),
    ).toThrow(/no libllama\.\*\.so and libggml\.\*\.so of node-llama-cpp's/);
    expect(configureCalls()).toHaveLength(before);
  }, 60_000);

  it("--help prints the header comment, and nothing of the code", () => {
    const help = run("--help");
    expect(help).toContain("npm run build:cuda");
    expect(
      help
        .split("\n")
        .filter((l) => l !== "")
        .every((l) => l.startsWith("#")),
    ).toBe(true);
  });

  it("says what to do when it cannot tell the GPU, and when there is no compiler", () => {
    rmSync(join(bin, "nvidia-smi"));
    expect(() => run("--no-install")).toThrow(/no nvidia-smi: pass --arch/);
    fake("nvidia-smi", "exit 9");
    expect(() => run("--no-install")).toThrow(/gave no compute capability: pass --arch/);
    rmSync(join(bin, "nvcc"));
    // (CUDA_HOME names no toolkit either: this machine may have one in /usr/local/cuda.)
    expect(() => run("--arch", "90a", "--no-install")).toThrow(/no nvcc/);
  }, 60_000);
});

describe("scripts/cuda-module.sh: whether a CUDA backend library can load (real libraries from the C compiler)", () => {
  /** Builds a shared library from C source with the system compiler. */
  function lib(name: string, source: string, extra: string[] = []): string {
    const src = join(work, `${name}.c`);
    const out = join(work, `lib${name}.so`);
    writeFileSync(src, source);
    execFileSync("cc", ["-shared", "-fPIC", "-o", out, src, ...extra]);
    return out;
  }
  function check(path: string): { status: number | null; out: string } {
    const script = `source ${moduleCheck}; cuda_module_loads ${path}`;
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it("passes a library whose ggml symbols all resolve", () => {
    const base = lib("ggml-base-double", "int ggml_base_fn(void) { return 1; }\n");
    const cuda = lib("ggml-cuda-ok", "int ggml_base_fn(void);\nint f(void) { return ggml_base_fn(); }\n", [
      `-L${work}`,
      "-lggml-base-double",
      `-Wl,-rpath,${work}`,
    ]);
    expect(check(cuda)).toEqual({ status: 0, out: "" });
    expect(base).toContain("libggml-base-double.so");
  });

  it("passes one whose only unresolved symbol is not ggml's (the check names ggml's own code)", () => {
    const other = lib("ggml-cuda-other", "void cuFooDouble(void);\nvoid f(void) { cuFooDouble(); }\n");
    expect(check(other)).toEqual({ status: 0, out: "" });
  });

  it("fails one that calls a ggml function no library defines, naming it", () => {
    const cuda = lib(
      "ggml-cuda-missing",
      "void ggml_cuda_mul_mat_id_grouped(void);\nvoid f(void) { ggml_cuda_mul_mat_id_grouped(); }\n",
    );
    const r = check(cuda);
    expect(r.status).toBe(1);
    expect(r.out).toContain("cannot load");
    expect(r.out).toContain("ggml_cuda_mul_mat_id_grouped");
  });

  it("build-ggml-cuda.sh installs nothing when the library it built cannot load", () => {
    const broken = lib(
      "ggml-cuda-unloadable",
      "void ggml_cuda_missing_double(void);\nvoid f(void) { ggml_cuda_missing_double(); }\n",
    );
    fake("nvcc", "exit 0"); // (an earlier case took it away)
    const before = readFileSync(join(install, "libggml-cuda.so"));
    expect(() => runWith({ FAKE_CUDA_SO: broken }, "--arch", "90a")).toThrow(
      /cannot load[\s\S]*ggml_cuda_missing_double[\s\S]*not installing it/,
    );
    expect(readFileSync(join(install, "libggml-cuda.so"))).toEqual(before);
  }, 60_000);
});
