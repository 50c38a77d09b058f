/**
 * Engine selection as a table instead of an if/else: each engine type (`--engine`) maps to a
 * factory that builds a loaded Engine from options the caller chose (the server's config, in
 * cli/start-engine.ts). A type that is not registered is an `invalid_value` naming the ones that
 * are, so adding an engine (the upstream engines of the next issue) is one `register` call.
 */
import type { Logger } from "pino";
import { ServerError } from "../errors/server-error.ts";
import type { Engine } from "./engine.ts";

export type EngineFactory<Options> = (options: Options, logger: Logger) => Promise<Engine>;

export class EngineRegistry<Options> {
  readonly #factories = new Map<string, EngineFactory<Options>>();

  /** Registers `type`; registering a type twice is a programming error. */
  register(type: string, factory: EngineFactory<Options>): this {
    if (this.#factories.has(type)) throw new Error(`engine type "${type}" is already registered`);
    this.#factories.set(type, factory);
    return this;
  }

  get types(): readonly string[] {
    return [...this.#factories.keys()];
  }

  /** Builds the engine of `type`. */
  create(type: string, options: Options, logger: Logger): Promise<Engine> {
    const factory = this.#factories.get(type);
    if (factory === undefined) {
      throw new ServerError(
        "invalid_value",
        `unknown engine "${type}": use one of ${this.types.join(", ")}`,
        { param: "engine" },
      );
    }
    return factory(options, logger);
  }
}
