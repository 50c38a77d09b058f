#!/usr/bin/env node
/**
 * Adds to package-lock.json the optional platform packages (other operating systems and CPUs) that
 * npm leaves out of it here. The registry this project's machines reach lists those packages but
 * serves none of their versions, so `npm install` drops them from the lock silently, and `npm ci`
 * then refuses the lock as out of sync ("Missing: @rollup/rollup-win32-x64-msvc@ from lock file").
 * An entry with `os`/`cpu`/`libc` that do not match the machine is skipped by `npm ci` without a
 * download, as on any other machine. Run after `npm install` changes the lock:
 *   node scripts/complete-lockfile.mjs
 */
import { readFileSync, writeFileSync } from "node:fs";

const lockPath = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const packages = lock.packages;

/** os/cpu/libc from a platform package's name, e.g. "linux-arm64-musl", "win32-x64-msvc", "mac-x64". */
function platformOf(suffix) {
  const parts = suffix.split("-");
  const osName = { mac: "darwin", win: "win32" }[parts[0]] ?? parts[0];
  const cpu = parts[1] === "arm" && parts[2] === "eabi" ? "arm" : parts[1];
  const libc = suffix.includes("musl")
    ? "musl"
    : osName === "linux" && suffix.includes("gnu")
      ? "glibc"
      : undefined;
  return { os: [osName], cpu: [cpu], ...(libc ? { libc: [libc] } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] !== undefined || packages[`${path}/node_modules/${name}`] !== undefined) continue;
    const match = /^@(?:node-llama-cpp|rollup)\/(?:rollup-)?(.+)$/.exec(name);
    if (match === null) continue;
    packages[key] = { version, ...(entry.dev ? { dev: true } : {}), optional: true, ...platformOf(match[1]) };
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + "\n");
console.log(`complete-lockfile: added ${added} platform entries`);
