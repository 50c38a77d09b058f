#!/usr/bin/env node
// Builds the native decode core (native/src → native/build/gptoss_core.node). Run by `npm ci` /
// `npm install` (the package's "install" script) and by bench/gpu/run.sh on the GPU machine.
//
// A plain compiler call, not node-gyp: node-gyp would download Node's headers (no network here),
// and the core needs nothing but Node-API headers (Node's own include folder, else the
// node-api-headers package), node-addon-api (header-only) and llama.cpp's headers (vendored in
// native/include, from the commit node-llama-cpp's binaries were built from). llama.cpp itself is
// resolved at run time from the library node-llama-cpp loads, so there is nothing to link.
//
// Skips the build when the output is newer than every source. Without a compiler (or off Linux)
// it warns and exits 0: the server then runs the node-llama-cpp engine. GPTOSS_NATIVE_REQUIRED=1
// (CI) turns that into a failure.
//
// Warnings are errors (-Wall -Wextra -Werror) in our sources; the vendored llama.cpp headers and
// the Node / node-addon-api headers are -isystem, so their warnings cannot break a build. Where the
// build is not required (an `npm ci` on a user's machine), a build that fails only as -Werror is
// retried without it, with a warning: a newer compiler's new warning must not silently demote a
// server to the slower engine. CI (GPTOSS_NATIVE_REQUIRED=1) and --sanitize keep warnings fatal.
//
// --sanitize builds native/build/asan/gptoss_core.node with AddressSanitizer and UBSan instead (for
// scripts/native-sanitize.sh; never loaded by the server unless GPTOSS_NATIVE_CORE points at it).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "native", "src");
const sanitize = process.argv.includes("--sanitize");
// The sanitized build sits inside native/build (ignored by git), beside the real one.
const outDir = sanitize ? join(root, "native", "build", "asan") : join(root, "native", "build");
const out = join(outDir, "gptoss_core.node");
const shown = relative(root, out);
// Asking for a sanitized build is asking for it to exist: no quiet fallback.
const required = process.env.GPTOSS_NATIVE_REQUIRED === "1" || sanitize;

function giveUp(message) {
  console.error(`build-native: ${message}`);
  if (required) process.exit(1);
  console.error("build-native: the server will use the node-llama-cpp engine (slower on GPUs)");
  process.exit(0);
}

if (process.platform !== "linux")
  giveUp(`the native core is built on Linux only (this is ${process.platform})`);

const sources = readdirSync(srcDir)
  .filter((f) => f.endsWith(".cpp"))
  .map((f) => join(srcDir, f));
const includeDir = join(root, "native", "include");
// Sources, the vendored llama.cpp headers (struct layouts) and this recipe: a change to any rebuilds.
const inputs = [
  ...readdirSync(srcDir).map((f) => join(srcDir, f)),
  ...readdirSync(includeDir).map((f) => join(includeDir, f)),
  fileURLToPath(import.meta.url),
];
if (existsSync(out) && !process.argv.includes("--force")) {
  const built = statSync(out).mtimeMs;
  if (inputs.every((f) => statSync(f).mtimeMs <= built)) {
    console.log(`build-native: ${shown} is up to date`);
    process.exit(0);
  }
}

const require = createRequire(import.meta.url);
function packageDir(name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}
const addonApi = packageDir("node-addon-api");
if (addonApi === undefined) giveUp("node-addon-api is not installed");
const nodeInclude = join(dirname(process.execPath), "..", "include", "node");
const apiHeaders = packageDir("node-api-headers");
const napiInclude = existsSync(join(nodeInclude, "node_api.h"))
  ? nodeInclude
  : apiHeaders !== undefined && existsSync(join(apiHeaders, "include", "node_api.h"))
    ? join(apiHeaders, "include")
    : undefined;
if (napiInclude === undefined)
  giveUp("no Node-API headers (neither Node's include folder nor node-api-headers)");

const cxx = process.env.CXX ?? "g++";
// -O3 and no -march: baseline code runs on any machine of the architecture. No -ffast-math: its
// finite-math assumption would break the infinities that encode banned tokens (and the NaN checks
// that catch broken weights), and reassociation would undo the exact rounding in the sampler's exp;
// the sampler's loops are written in independent lanes so that they vectorise without it
// (native/src/sampler.cpp). The sanitized build trades speed for readable reports: -O1, frame
// pointers, debug info.
const optimisation = sanitize
  ? ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined"]
  : ["-O3"];
const args = [
  "-std=c++17",
  ...optimisation,
  "-Wall",
  "-Wextra",
  "-fPIC",
  "-shared",
  "-fvisibility=hidden",
  "-fno-math-errno",
  "-fno-trapping-math", // lets the compiler turn the sampler's float selects into vector blends
  "-DNAPI_VERSION=8",
  "-DNAPI_CPP_EXCEPTIONS",
  // Any std::exception escaping a function JavaScript called becomes a JS Error (not only Napi::Error).
  "-DNODE_ADDON_API_CPP_EXCEPTIONS_ALL",
  "-DNODE_ADDON_API_DISABLE_DEPRECATED",
  "-isystem",
  napiInclude,
  "-isystem",
  addonApi,
  "-isystem",
  includeDir,
  ...sources,
  "-o",
  `${out}.tmp`,
  "-ldl",
  "-pthread",
];
mkdirSync(outDir, { recursive: true });
const started = Date.now();
const failure = (error) => `${cxx} failed: ${error instanceof Error ? error.message : String(error)}`;
try {
  execFileSync(cxx, ["-Werror", ...args], { stdio: "inherit" });
} catch (error) {
  if (required) giveUp(failure(error));
  console.error(
    "build-native: failed with -Werror; building again without it (CI treats warnings as errors)",
  );
  try {
    execFileSync(cxx, args, { stdio: "inherit" });
  } catch (again) {
    giveUp(failure(again));
  }
}
renameSync(`${out}.tmp`, out);
console.log(`build-native: built ${shown} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
