/**
 * The models this server serves, and which one answers a request. Routing rules:
 * - `model` naming a served model (its id, or its size like "20b") → that model;
 * - `model` "auto" / "gpt-oss" / "default" → the profile's preferred size (quality_first: 120b) when
 *   served, else the first served model, reported as a fallback;
 * - a known gpt-oss name that is not served, or anything else → 404 model_not_found.
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

export type PoolState = "loading" | "ready" | "failed";

export class ModelPool {
  #models: ServedModel[] = [];
  #state: PoolState = "loading";
  #failure: string | undefined;

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
    const direct = this.#models.find((m) => m.id === requested || m.size === requested);
    if (direct !== undefined) return { model: direct };
    if (GENERIC_NAMES.has(requested)) {
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
    throw new ServerError(
      "model_not_found",
      `The model '${requested}' does not exist here. Served: ${served}`,
      {
        param: "model",
      },
    );
  }

  findRunning(requestId: string): ServedModel | undefined {
    return this.#models.find((m) => m.scheduler.has(requestId));
  }
}
