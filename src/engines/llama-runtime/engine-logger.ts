/** The slice of a logger the engine needs; a pino logger fits it. */
export interface EngineLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** For callers that pass no logger: the engine stays quiet. */
export const silentEngineLogger: EngineLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
