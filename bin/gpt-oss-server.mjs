#!/usr/bin/env node
// The package's command: runs the TypeScript entry through tsx, so there is no build step to forget.
import { availableParallelism } from "node:os";

// node-llama-cpp samples on libuv's thread pool (4 threads by default): with many streams those 4
// threads were the bottleneck on an H100 (32 streams: 100 -> 150 tok/s with 16). The pool is sized
// at its first use, so this must run before anything else.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));

const { register } = await import("tsx/esm/api");

register();
await import("../src/main.ts");
