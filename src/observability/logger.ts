/**
 * The server's logger: pino JSON lines to stdout and, with a log directory (--log-file DIR), also
 * to `<DIR>/server_<YYYYMMDD_HHMMSS>.log`, the file the v4.5.1 users `tail -f server_*.log` and
 * `grep ERROR`.
 *
 * Each line keeps pino's numeric `level` (so pino-pretty and log shippers keep working) and adds
 * `level_name` in upper case ("INFO", "WARN", "ERROR"), so `grep ERROR server_*.log` finds the
 * errors as it did with v4.5.1's Python logging. `time` is ISO 8601 so the file reads without tools.
 *
 * stdout and the file are written asynchronously (a busy server does not pay a syscall a line);
 * close() flushes both.
 *
 * With `format: "pretty"` (log-format.ts decides) stdout gets readable lines instead
 * (pretty-lines.ts); the file stays JSON.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import { pino, type DestinationStream, type Level, type Logger, type StreamEntry } from "pino";
import { prettyLineFormatter } from "./pretty-lines.ts";

export type LogLevel = Level | "silent";

export interface CreateLoggerOptions {
  level: LogLevel;
  /** Directory for the server_<timestamp>.log file; created when missing. */
  logDir?: string | undefined;
  /** Where the stdout copy goes: default process stdout; false for none (tests). */
  stdout?: DestinationStream | false | undefined;
  /** Clock for the file name; injectable for tests. */
  now?: (() => Date) | undefined;
  /** stdout's lines: JSON (default) or readable (the file is JSON either way). */
  format?: "json" | "pretty" | undefined;
  /** ANSI colours in pretty lines. */
  colorize?: boolean | undefined;
}

export interface ServerLogger {
  logger: Logger;
  /** Absolute path of the log file, when logDir was given. */
  logFile: string | undefined;
  /** Flushes and closes the file. Idempotent. */
  readonly close: () => Promise<void>;
  /** Writes text as it is to stdout (the start banner), in order with the log lines; not to the file. */
  readonly print: (text: string) => void;
}

export function createLogger(options: CreateLoggerOptions): ServerLogger {
  const streams: StreamEntry[] = [];
  // Streams accept every level; the logger's own level filters, so changing logger.level at run
  // time (e.g. to debug a live server) takes effect on every destination.
  const streamLevel: Level = "trace";
  let stdout: ReturnType<typeof pino.destination> | undefined;
  let consoleStream: DestinationStream | undefined;
  if (options.stdout !== false) {
    // Asynchronous: a line per request written synchronously cost ~20% of the HTTP layer's
    // throughput (measured with wrk, fake engine). Lines written while a write is in flight are
    // batched into the next one; close() flushes what is left.
    stdout = options.stdout === undefined ? pino.destination({ dest: 1, sync: false }) : undefined;
    consoleStream = options.stdout ?? stdout!;
    let stream: DestinationStream = consoleStream;
    if (options.format === "pretty") {
      const pretty = prettyLineFormatter(options.colorize ?? false);
      const target = consoleStream;
      stream = { write: (line: string) => target.write(pretty(line)) };
    }
    streams.push({ level: streamLevel, stream });
  }

  let logFile: string | undefined;
  let file: ReturnType<typeof pino.destination> | undefined;
  if (options.logDir !== undefined) {
    mkdirSync(options.logDir, { recursive: true });
    logFile = uniqueLogPath(path.resolve(options.logDir), (options.now ?? (() => new Date()))());
    file = pino.destination({ dest: logFile, sync: false, append: true });
    streams.push({ level: streamLevel, stream: file });
  }

  const logger = pino(
    {
      level: options.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label, number) => ({ level: number, level_name: label.toUpperCase() }),
      },
    },
    pino.multistream(streams),
  );

  let closed: Promise<void> | undefined;
  return {
    logger,
    logFile,
    print(text) {
      consoleStream?.write(text);
    },
    close() {
      stdout?.flushSync();
      closed ??= closeFile(file);
      return closed;
    },
  };
}

async function closeFile(file: ReturnType<typeof pino.destination> | undefined): Promise<void> {
  if (file === undefined) return;
  // end() waits for the asynchronous open, writes what is buffered, fsyncs, then emits "close".
  const finished = once(file, "close");
  file.end();
  await finished;
}

/** `server_20261122_094512.log` in local time; `_2`, `_3`... when a server started in the same second. */
function uniqueLogPath(dir: string, at: Date): string {
  const stamp = formatStamp(at);
  let candidate = path.join(dir, `server_${stamp}.log`);
  for (let n = 2; existsSync(candidate); n += 1) candidate = path.join(dir, `server_${stamp}_${n}.log`);
  return candidate;
}

export function formatStamp(at: Date): string {
  const two = (value: number): string => String(value).padStart(2, "0");
  const date = `${at.getFullYear()}${two(at.getMonth() + 1)}${two(at.getDate())}`;
  return `${date}_${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`;
}
