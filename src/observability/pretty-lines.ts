/**
 * Log lines for people (`--log-format pretty`, or a terminal): one line each, time, level, message,
 * then the line's fields as `key=value`, e.g.
 *
 *   [14:02:11.532] INFO: request finished request_id=req_x route="POST /v1/chat/completions" ...
 *
 * pino-pretty does the time and the (coloured) level; the fields are ours, so a request's line
 * stays one readable line instead of a JSON object. An error adds its stack on the lines below.
 * Used in-process, synchronously (prettyFactory, not pino-pretty's worker transport), so it works
 * under tsx, in tests, and loses nothing at exit.
 */
import pinoPretty from "pino-pretty";

/** pino's own fields, shown by pino-pretty or not at all. */
const SKIPPED = new Set(["level", "level_name", "time", "msg", "pid", "hostname", "err"]);
/** A field's value is cut beyond this (an object's JSON, a long message). */
const MAX_VALUE = 240;

/** Turns one JSON log line (what pino writes) into one readable line. */
export function prettyLineFormatter(colorize: boolean): (line: string) => string {
  const format = pinoPretty.prettyFactory({
    colorize,
    singleLine: true,
    hideObject: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,level_name",
    messageFormat: (log, messageKey) => formatMessage(log, messageKey),
  });
  // With hideObject, pino-pretty leaves the line unterminated.
  return (line) => {
    const text = format(line);
    return text.endsWith("\n") ? text : `${text}\n`;
  };
}

function formatMessage(log: Record<string, unknown>, messageKey: string): string {
  const message = log[messageKey];
  const parts: string[] = [typeof message === "string" ? message : ""];
  for (const [key, value] of Object.entries(log)) {
    if (key === messageKey || SKIPPED.has(key) || value === undefined || value === null) continue;
    // A refused request's token counts are all 0: noise for a reader.
    if (value === 0 && key.endsWith("_tokens")) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  let text = parts.join(" ");
  const err = log.err as { message?: unknown; stack?: unknown } | undefined;
  if (err !== undefined && err !== null && typeof err === "object") {
    text += ` err=${formatValue(err.message ?? "")}`;
    if (typeof err.stack === "string") text += `\n    ${err.stack.split("\n").join("\n    ")}`;
  }
  return text;
}

function formatValue(value: unknown): string {
  if (typeof value === "number") return String(Number.isInteger(value) ? value : Math.round(value * 10) / 10);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") {
    const cut = value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}…` : value;
    return /^[^\s"=]+$/.test(cut) ? cut : JSON.stringify(cut);
  }
  const json = JSON.stringify(value);
  return json.length > MAX_VALUE ? `${json.slice(0, MAX_VALUE)}…` : json;
}
