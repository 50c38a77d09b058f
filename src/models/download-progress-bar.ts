/** A terminal progress bar for model downloads (stderr, only when it is a terminal). */
import cliProgress from "cli-progress";
import type { DownloadProgress } from "./download.ts";

export interface DownloadProgressBar {
  update(progress: DownloadProgress): void;
  stop(): void;
}

const MIB = 2 ** 20;

export function createDownloadProgressBar(stream: NodeJS.WriteStream = process.stderr): DownloadProgressBar {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      format: "{file} {bar} {percentage}% | {value}/{total} MiB | eta {eta_formatted}",
      stream,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let current: string | undefined;
  return {
    update({ file, received, total }) {
      const totalMib = Math.round((total ?? received) / MIB);
      if (file !== current) {
        if (current !== undefined) bar.stop();
        bar.start(totalMib, Math.round(received / MIB), { file });
        current = file;
      }
      bar.setTotal(totalMib);
      bar.update(Math.round(received / MIB), { file });
    },
    stop() {
      if (current !== undefined) bar.stop();
      current = undefined;
    },
  };
}
