/**
 * How stdout's log lines look: readable lines for a person at a terminal, JSON for anything else
 * (a pipe, a file, a log shipper, `docker logs`). `--log-format` decides; `auto` looks at whether
 * stdout is a terminal. The log file (--log-file) is always JSON.
 */

export type LogFormatChoice = "auto" | "pretty" | "json";

export interface LogOutput {
  format: "pretty" | "json";
  /** ANSI colours: only on a terminal (a pretty log piped to a file stays plain text). */
  colorize: boolean;
}

export function resolveLogFormat(choice: LogFormatChoice, stdoutIsTty: boolean): LogOutput {
  const format = choice === "auto" ? (stdoutIsTty ? "pretty" : "json") : choice;
  return { format, colorize: format === "pretty" && stdoutIsTty };
}
