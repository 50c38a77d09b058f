/**
 * The models this server serves, and which one answers a request. Names are read in our spelling
 * (`gpt-oss-20b`), Hugging Face's and vLLM's (`openai/gpt-oss-20b`) and Ollama's (`gpt-oss:20b`,
 * `gpt-oss:latest`), case-insensitively. Routing rules:
 * - `model` naming a served model (its id, or its size like "20b") → that model;
 * - `model` "auto" / "gpt-oss" / "default" / "gpt-oss:latest" → the profile's preferred size
 *   (quality_first: 120b) when served, else the first served model, reported as a fallback;
 * - a gpt-oss size that is not served (v4.5.1's release gate sends gpt-oss-120b for quality_first
 *   to a 20b server) → the first served model, reported as a fallback, as v4.5.1 did; with
 *   `strictNames` (--strict-model-names) a 404 model_not_found;
 * - anything else → 404 model_not_found.
 */
import type { Profile } from "../config/profiles.ts";
import type { Engine } from "../engines/engine.ts";
import { ServerError } from "../errors/server-error.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";

export interface ServedModel {
  id: string;
  /** "20b" | "120b" | "tiny" | "file" */
  size: string;
  /** The engine type as v4.5.1 named it (custom = embedded llama.cpp, vllm, fake): chosen_engine. */
  engineType: string;
  engine: Engine;
  scheduler: Scheduler;
}

export interface RoutedModel {
  model: ServedModel;
  fallback?: { requested: string; served: string; reason: string };
}

const GENERIC_NAMES = new Set(["auto", "gpt-oss", "default"]);

/** gpt-oss sizes OpenAI released: a name for one of them is a gpt-oss request even when unserved. */
const GPT_OSS_SIZE = /^(?:gpt-oss-)?(20b|120b)$/;

/**
 * A model name in our spelling: lower case, without Hugging Face's `openai/` owner, with Ollama's
 * `gpt-oss:20b` as `gpt-oss-20b` and its `gpt-oss:latest` as the generic `gpt-oss`.
 */
export function canonicalModelName(name: string): string {
  let n = name.trim().toLowerCase();
  if (n.startsWith("openai/")) n = n.slice("openai/".length);
  const ollama = /^gpt-oss:(.+)$/.exec(n);
  if (ollama !== null) n = ollama[1] === "latest" ? "gpt-oss" : `gpt-oss-${ollama[1]}`;
  return n;
}

export interface ModelPoolOptions {
  /** An unserved gpt-oss size is a 404 instead of a fallback (--strict-model-names). */
  strictNames?: boolean;
}

export type PoolState = "loading" | "ready" | "failed";

export class ModelPool {
  #models: ServedModel[] = [];
  #state: PoolState = "loading";
  #failure: string | undefined;
  readonly #strictNames: boolean;

  constructor(options: ModelPoolOptions = {}) {
    this.#strictNames = options.strictNames ?? false;
  }

  get state(): PoolState {
    return this.#state;
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  get models(): readonly ServedModel[] {
    return this.#models;
  }

  add(model: ServedModel): void {
    this.#models.push(model);
  }

  markReady(): void {
    this.#state = "ready";
  }

  markFailed(reason: string): void {
    this.#state = "failed";
    this.#failure = reason;
  }

  route(requested: string, profile: Profile): RoutedModel {
    if (this.#state === "loading")
      throw new ServerError("model_loading", "the model is still loading; retry shortly");
    if (this.#state === "failed") {
      throw new ServerError(
        "model_loading",
        `the engine failed to start: ${this.#failure ?? "unknown reason"}`,
      );
    }
    const direct = this.find(requested);
    if (direct !== undefined) return { model: direct };
    const name = canonicalModelName(requested);
    if (GENERIC_NAMES.has(name)) {
      const preferred = this.#models.find((m) => m.size === profile.model);
      if (preferred !== undefined) return { model: preferred };
      const first = this.#models[0];
      if (first === undefined) throw new ServerError("model_loading", "no model is loaded");
      return {
        model: first,
        fallback: {
          requested: `gpt-oss-${profile.model}`,
          served: first.id,
          reason: `profile ${profile.name} prefers gpt-oss-${profile.model}, which this server does not serve`,
        },
      };
    }
    const served = this.#models.map((m) => m.id).join(", ");
    const first = this.#models[0];
    if (GPT_OSS_SIZE.test(name) && first !== undefined) {
      if (this.#strictNames) {
        throw new ServerError(
          "model_not_found",
          `The model '${requested}' is not served here (--strict-model-names). Served: ${served}`,
          { param: "model" },
        );
      }
      return {
        model: first,
        fallback: {
          requested,
          served: first.id,
          reason: `${requested} is not served here; ${first.id} answers instead (--strict-model-names makes this a 404)`,
        },
      };
    }
    throw new ServerError(
      "model_not_found",
      `The model '${requested}' does not exist here. Served: ${served}`,
      {
        param: "model",
      },
    );
  }

  /**
   * The served model a name means, in any of the spellings above, or undefined: no fallback here
   * (GET /v1/models/{id} answers for served models only).
   */
  find(requested: string): ServedModel | undefined {
    const exact = this.#models.find((m) => m.id === requested || m.size === requested);
    if (exact !== undefined) return exact;
    const name = canonicalModelName(requested);
    return this.#models.find(
      (m) => m.id.toLowerCase() === name || m.size === name || `gpt-oss-${m.size}` === name,
    );
  }

  findRunning(requestId: string): ServedModel | undefined {
    return this.#models.find((m) => m.scheduler.has(requestId));
  }
}
