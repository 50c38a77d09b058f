/**
 * Engine selection and replica placement, without loading a model: the registry's table, each
 * replica's CUDA_VISIBLE_DEVICES, and the combinations refused before any worker starts.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.ts";
import { embeddedReplicas, type ConfigKey } from "../config/schema.ts";
import {
  ENGINE_REGISTRY,
  modelConfig,
  replicaEnvironments,
  startEngine,
  startServingEngine,
} from "./start-engine.ts";

const logger = pino({ level: "silent" });
const config = (flags: Partial<Record<ConfigKey, unknown>>) => loadConfig({ flags, env: {} });

describe("replicaEnvironments", () => {
  it("--gpus 0,1 --replicas-per-gpu 2: four replicas, CUDA_VISIBLE_DEVICES 0,0,1,1", () => {
    const envs = replicaEnvironments(config({ gpus: ["0,1"], replicasPerGpu: 2 }));
    expect(envs.map((e) => e["CUDA_VISIBLE_DEVICES"])).toEqual(["0", "0", "1", "1"]);
  });

  it("--gpus alone: one replica a GPU; --replicas N without GPUs: N copies with the environment unchanged", () => {
    expect(replicaEnvironments(config({ gpus: ["3", "GPU-5d3c"] }))).toEqual([
      { CUDA_VISIBLE_DEVICES: "3" },
      { CUDA_VISIBLE_DEVICES: "GPU-5d3c" },
    ]);
    expect(replicaEnvironments(config({ replicas: 3 }))).toEqual([{}, {}, {}]);
    expect(replicaEnvironments(config({}))).toEqual([{}]);
  });

  it("starts as many replicas as embeddedReplicas counts (the profiles' caps are sized by it)", () => {
    for (const flags of [{ gpus: ["0,1,2,3"] }, { gpus: ["0,1"], replicasPerGpu: 3 }, { replicas: 5 }, {}]) {
      const c = config(flags);
      expect(replicaEnvironments(c)).toHaveLength(embeddedReplicas(c));
    }
  });
});

describe("engine selection (the registry)", () => {
  it("registers every --engine type", () => {
    expect([...ENGINE_REGISTRY.types].sort()).toEqual(["auto", "custom", "fake", "upstream", "vllm"]);
  });

  it("starts the fake engine in this process; vllm and upstream need --upstream", async () => {
    const engine = await startEngine(config({ engine: "fake" }), logger);
    expect(engine.info).toMatchObject({ name: "fake", modelId: "gpt-oss-fake" });
    await engine.close();
    for (const type of ["vllm", "upstream"]) {
      await expect(startEngine(config({ engine: type }), logger)).rejects.toMatchObject({
        code: "invalid_value",
        param: "upstream",
      });
    }
  });

  it("vllm and auto with --upstream serve through the upstreams (an upstream test double answering /v1/models)", async () => {
    const double = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: [{ id: "openai/gpt-oss-120b", max_model_len: 8192 }] }));
    });
    double.listen(0, "127.0.0.1");
    await once(double, "listening");
    const url = `http://127.0.0.1:${(double.address() as AddressInfo).port}`;
    try {
      for (const type of ["vllm", "auto"]) {
        const engine = await startServingEngine(
          config({ engine: type, upstream: [`${url},${url}`] }),
          logger,
        );
        // Two upstreams behind the replica router, the model and context from the upstream.
        expect(engine.info).toMatchObject({
          modelId: "openai/gpt-oss-120b",
          modelSize: "120b",
          contextSize: 8192,
        });
        expect(engine.health().replicas).toHaveLength(2);
        await engine.close();
      }
    } finally {
      double.close();
    }
  });

  it("an embedded engine is started for one model at a time (modelConfig narrows the list)", async () => {
    const two = config({ model: ["tiny,20b"] });
    expect(modelConfig(two, "20b").model).toEqual(["20b"]);
    await expect(startEngine(two, logger)).rejects.toThrow(/one model/);
  });
});

describe("startServingEngine refusals", () => {
  it("inline with several replicas (--replicas or --gpus) is refused before anything starts", async () => {
    for (const flags of [{ replicas: 2 }, { gpus: ["0,1"] }, { gpus: ["0"], replicasPerGpu: 2 }]) {
      await expect(
        startServingEngine(config({ engine: "fake", engineProcess: "inline", ...flags }), logger),
      ).rejects.toMatchObject({
        code: "invalid_value",
        message: expect.stringMatching(/--engine-process worker/),
      });
    }
  });
});
