import { describe, expect, it } from "vitest";
import { PROFILES } from "../config/profiles.ts";
import type { Engine } from "../engines/engine.ts";
import { FakeEngine } from "../engines/fake/fake-engine.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { canonicalModelName, ModelPool, type ServedModel } from "./model-pool.ts";

function served(id: string, size: string): ServedModel {
  return { id, size, engineType: "custom", engine: {} as Engine, scheduler: {} as Scheduler };
}

function pool(options: { strictNames?: boolean } = {}): ModelPool {
  const p = new ModelPool(options);
  p.add(served("gpt-oss-20b", "20b"));
  p.markReady();
  return p;
}

describe("canonicalModelName", () => {
  it("reads Hugging Face's, vLLM's and Ollama's spellings as ours", () => {
    expect(canonicalModelName("openai/gpt-oss-20b")).toBe("gpt-oss-20b");
    expect(canonicalModelName("OpenAI/GPT-OSS-120B")).toBe("gpt-oss-120b");
    expect(canonicalModelName("gpt-oss:20b")).toBe("gpt-oss-20b");
    expect(canonicalModelName("gpt-oss:latest")).toBe("gpt-oss");
    expect(canonicalModelName(" my-model.gguf ")).toBe("my-model.gguf");
  });
});

describe("ModelPool.route", () => {
  const latency = PROFILES.latency_first;
  const quality = PROFILES.quality_first;

  it("serves every spelling of the served model, without a fallback", () => {
    for (const name of ["gpt-oss-20b", "20b", "openai/gpt-oss-20b", "gpt-oss:20b", "GPT-OSS-20B"]) {
      expect(pool().route(name, latency), name).toEqual({
        model: expect.objectContaining({ id: "gpt-oss-20b" }),
      });
    }
  });

  it("falls back from an unserved gpt-oss size, naming what was asked", () => {
    for (const name of ["gpt-oss-120b", "openai/gpt-oss-120b", "gpt-oss:120b", "120b"]) {
      const routed = pool().route(name, quality);
      expect(routed.model.id).toBe("gpt-oss-20b");
      expect(routed.fallback).toMatchObject({ requested: name, served: "gpt-oss-20b" });
    }
    expect(pool().route("gpt-oss:latest", quality).fallback?.requested).toBe("gpt-oss-120b");
  });

  it("with strictNames an unserved size is model_not_found; other names always are", () => {
    expect(() => pool({ strictNames: true }).route("gpt-oss-120b", quality)).toThrow(/strict-model-names/);
    expect(pool({ strictNames: true }).route("openai/gpt-oss-20b", quality).fallback).toBeUndefined();
    expect(() => pool().route("llama-3", latency)).toThrow(/does not exist here/);
    expect(() => pool().route("gpt-oss-7b", latency)).toThrow(/does not exist here/);
  });

  it("find() answers for served models only", () => {
    expect(pool().find("openai/gpt-oss-20b")?.id).toBe("gpt-oss-20b");
    expect(pool().find("gpt-oss-120b")).toBeUndefined();
  });
});

describe("ModelPool with several models (--model 20b,120b)", () => {
  /** Two engines that differ only in what they report; routing reads nothing else. */
  function twoModels(): ModelPool {
    const p = new ModelPool();
    for (const size of ["20b", "120b"]) {
      const engine = new FakeEngine({ modelId: `gpt-oss-${size}`, modelSize: size, script: () => [1] });
      p.add({ id: engine.info.modelId, size, engineType: "custom", engine, scheduler: {} as Scheduler });
    }
    p.markReady();
    return p;
  }

  it("gives each profile its preferred size for a generic name: quality_first → 120b, latency_first → 20b", () => {
    const p = twoModels();
    for (const name of ["auto", "gpt-oss", "gpt-oss:latest", "default"]) {
      expect(p.route(name, PROFILES.quality_first), name).toEqual({
        model: expect.objectContaining({ id: "gpt-oss-120b" }),
      });
      expect(p.route(name, PROFILES.latency_first), name).toEqual({
        model: expect.objectContaining({ id: "gpt-oss-20b" }),
      });
    }
    expect(p.route("auto", PROFILES.quality_first).model.engine.info.modelSize).toBe("120b");
  });

  it("serves each model by its own name, whatever the profile prefers, without a fallback", () => {
    const p = twoModels();
    expect(p.route("gpt-oss-20b", PROFILES.quality_first)).toEqual({
      model: expect.objectContaining({ id: "gpt-oss-20b" }),
    });
    expect(p.route("openai/gpt-oss-120b", PROFILES.latency_first)).toEqual({
      model: expect.objectContaining({ id: "gpt-oss-120b" }),
    });
    expect(p.models.map((m) => m.id)).toEqual(["gpt-oss-20b", "gpt-oss-120b"]);
  });
});
