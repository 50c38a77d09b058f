/**
 * The start banner, printed once the models are loaded when the log is for people (pretty): where
 * the server answers, what it serves on what, the random-weights warning, and where to look next.
 * JSON logs get no banner: their "ready" lines say the same to a machine.
 */

export interface BannerModel {
  id: string;
  /** What serves it: custom, upstream, fake. */
  engine: string;
  gpuMode: string;
  gpuCount: number | null;
  /** Context per sequence, and sequences at once. */
  contextSize: number;
  sequences: number;
  randomWeights: boolean;
}

export interface BannerInfo {
  url: string;
  models: readonly BannerModel[];
  profile: string;
  /** API keys are required (the banner says how to send one). */
  apiKeys: boolean;
  logFile?: string | undefined;
  otlpEndpoint?: string | undefined;
  alertWebhook?: string | undefined;
  /** Where the operations guide is. */
  docs: string;
}

const ANSI = { bold: "\u001b[1m", yellow: "\u001b[33m", dim: "\u001b[2m", reset: "\u001b[0m" };

export function startBanner(info: BannerInfo, colorize: boolean): string {
  const style = (code: string, text: string): string => (colorize ? `${code}${text}${ANSI.reset}` : text);
  const row = (label: string, value: string): string => `  ${style(ANSI.dim, label.padEnd(10))} ${value}`;
  const lines = ["", `  ${style(ANSI.bold, `gpt-oss-server is ready at ${info.url}`)}`, ""];
  for (const m of info.models) {
    const gpu =
      m.gpuMode === "cpu" ? "CPU" : `GPU ${m.gpuMode}${m.gpuCount !== null ? ` ×${m.gpuCount}` : ""}`;
    lines.push(
      row(
        "model",
        `${m.id} · engine ${m.engine} · ${gpu} · context ${m.contextSize} × ${m.sequences} sequences`,
      ),
    );
    if (m.randomWeights) {
      lines.push(
        `  ${style(ANSI.yellow, `⚠ RANDOM WEIGHTS: ${m.id} has gpt-oss's architecture and tokenizer, but its output is noise`)}`,
      );
    }
  }
  lines.push(row("profile", info.profile));
  lines.push(row("API", `${info.url}/v1${info.apiKeys ? "  (send 'Authorization: Bearer <key>')" : ""}`));
  lines.push(row("dashboard", `${info.url}/dashboard`));
  lines.push(row("health", `${info.url}/health · ${info.url}/metrics`));
  if (info.logFile !== undefined) lines.push(row("log file", info.logFile));
  if (info.otlpEndpoint !== undefined) lines.push(row("traces", info.otlpEndpoint));
  if (info.alertWebhook !== undefined) lines.push(row("alerts", info.alertWebhook));
  lines.push(row("docs", info.docs), "", "");
  return lines.join("\n");
}
