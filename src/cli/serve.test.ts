/**
 * The composition root with several models, in this process (inline engines, port 0): each model
 * is loaded in turn, the server is ready once all are, and a model that fails closes the ones
 * already loaded.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.ts";
import type { ConfigKey } from "../config/schema.ts";
import { createLogger } from "../observability/logger.ts";
import { startServer } from "./serve.ts";

const start = (flags: Partial<Record<ConfigKey, unknown>>) =>
  startServer(
    loadConfig({
      flags: { port: 0, engineProcess: "inline", threads: 1, contextSize: 512, parallel: 2, ...flags },
      env: {},
    }),
    createLogger({ level: "silent" }),
  );

describe("startServer with several models", () => {
  it("a model that fails to load closes the ones loaded before it; the server reports the failure", async () => {
    const server = await start({ engine: "custom", model: ["tiny", "/nonexistent/missing.gguf"] });
    try {
      await expect(server.ready).rejects.toThrow(/model file not found/);
      expect(server.pool.state).toBe("failed");
      expect(server.pool.models).toHaveLength(1);
      expect(server.pool.models[0]!.engine.health().status).toBe("failed"); // closed
      const health = await server.app.inject({ method: "GET", url: "/health" });
      expect(health.statusCode).toBe(503);
    } finally {
      await server.shutdown("test");
    }
  });

  it("two models that are the same engine's model (the fake engine ignores --model) are refused", async () => {
    const server = await start({ engine: "fake", model: ["tiny", "20b"] });
    try {
      await expect(server.ready).rejects.toThrow(/are the same model \(gpt-oss-fake\)/);
      expect(server.pool.state).toBe("failed");
    } finally {
      await server.shutdown("test");
    }
  });
});
