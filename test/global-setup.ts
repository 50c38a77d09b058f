/**
 * vitest globalSetup: builds the tiny random-weight model once per test run (a cache hit after the
 * first run) and hands its path to every test file and every server process they spawn through
 * GPTOSS_TINY_MODEL. Honours GPTOSS_CACHE_DIR like the server does. Pins the harmony date
 * (GPTOSS_DATE, helpers/suite-date.ts) unless the run sets one.
 */
import { defaultCacheDir } from "../src/config/defaults.ts";
import { ensureTinyModel } from "../src/models/tiny-model.ts";
import { SUITE_DATE } from "./helpers/suite-date.ts";

export default async function setup(): Promise<void> {
  const cacheDir = process.env["GPTOSS_CACHE_DIR"] ?? defaultCacheDir();
  process.env["GPTOSS_TINY_MODEL"] = await ensureTinyModel(cacheDir);
  process.env["GPTOSS_DATE"] ??= SUITE_DATE;
}
