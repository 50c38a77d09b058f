/**
 * vitest globalSetup: builds the tiny random-weight model once per test run (a cache hit after the
 * first run) and hands its path to every test file and every server process they spawn through
 * GPTOSS_TINY_MODEL. Honours GPTOSS_CACHE_DIR like the server does.
 */
import { defaultCacheDir } from "../src/config/defaults.ts";
import { ensureTinyModel } from "../src/models/tiny-model.ts";

export default async function setup(): Promise<void> {
  const cacheDir = process.env["GPTOSS_CACHE_DIR"] ?? defaultCacheDir();
  process.env["GPTOSS_TINY_MODEL"] = await ensureTinyModel(cacheDir);
}
