import { describe, expect, it } from "vitest";
import { buildProgram, type CliHandlers, type ServeArgs } from "./program.ts";
import { loadConfig } from "../config/load.ts";

/** Parses a serve command line in-process and returns the flags it hands to serve(). */
async function serveFlags(argv: string[]): Promise<ServeArgs> {
  let got: ServeArgs | undefined;
  const handlers = {
    serve: (args: ServeArgs) => {
      got = args;
      return Promise.resolve(0);
    },
  } as unknown as CliHandlers;
  await buildProgram(handlers, () => undefined).parseAsync(["node", "gpt-oss-server", ...argv]);
  if (got === undefined) throw new Error("serve was not called");
  return got;
}

describe("serve flags of issue 10 (token budget, model names, keep-alive)", () => {
  it("reach the config under their keys", async () => {
    const args = await serveFlags([
      "--default-max-tokens",
      "profile",
      "--max-tokens-cap",
      "2048",
      "--strict-model-names",
      "--sse-keepalive",
      "15000",
    ]);
    const config = loadConfig({ flags: args.flags, env: {} });
    expect(config).toMatchObject({
      defaultMaxTokens: "profile",
      maxTokensCap: 2048,
      strictModelNames: true,
      sseKeepaliveMs: 15000,
    });
    const plain = loadConfig({ flags: (await serveFlags([])).flags, env: {} });
    expect(plain).toMatchObject({
      defaultMaxTokens: "context",
      strictModelNames: false,
      sseKeepaliveMs: 5000,
    });
  });
});

describe("serve flags of issue 11 (several models, replicas, GPUs)", () => {
  it("--model repeated or comma-separated, --gpus and --replicas-per-gpu reach the config", async () => {
    const config = async (argv: string[]) => loadConfig({ flags: (await serveFlags(argv)).flags, env: {} });
    expect((await config(["--model", "20b", "--model", "120b"])).model).toEqual(["20b", "120b"]);
    expect((await config(["--model", "20b,120b"])).model).toEqual(["20b", "120b"]);
    expect(await config(["--gpus", "0,1", "--replicas-per-gpu", "2", "--replicas", "3"])).toMatchObject({
      gpus: ["0", "1"],
      replicasPerGpu: 2,
      replicas: 3,
    });
  });
});
