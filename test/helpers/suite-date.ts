/**
 * The harmony "Current date" every test's server renders. A server's default is today, which is part
 * of every prompt: the seeded outputs of the random-weight model then change at midnight UTC, and a
 * test that needs a seeded run to end its tool call within max_tokens passed on one day and failed on
 * the next (test/grammar-real-engine.test.ts, 2026-12-08). Pinned for the suite: global-setup.ts sets
 * GPTOSS_DATE for every process, helpers that build a config themselves use it directly.
 */
export const SUITE_DATE = "2026-12-07";
