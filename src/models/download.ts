/**
 * Resumable HTTP download: bytes go to `<dest>.partial`, a retry continues with a Range request
 * (RFC 9110 §14), and the file is renamed to `dest` only once complete.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, stat, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

export interface DownloadProgress {
  /** Base name of the file being fetched. */
  file: string;
  received: number;
  /** Undefined when the server sends no length. */
  total: number | undefined;
}

export interface DownloadFileOptions {
  url: string;
  dest: string;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** A download that could not complete; `message` is meant for the user. */
export class DownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DownloadError";
  }
}

export async function downloadFile(options: DownloadFileOptions): Promise<void> {
  const { url, dest } = options;
  const partial = `${dest}.partial`;
  const file = dest.split(/[\\/]/).at(-1) ?? dest;
  await mkdir(dirname(dest), { recursive: true });
  const have = await sizeOf(partial);

  let response: Response;
  try {
    response = await fetch(url, {
      headers: have > 0 ? { Range: `bytes=${have}-` } : {},
      redirect: "follow",
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    if (options.signal?.aborted === true) throw error;
    throw new DownloadError(`cannot reach ${url}: ${describeFetchError(error)}`, { cause: error });
  }

  let start: number;
  let total: number | undefined;
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get("content-range"));
    if (range?.start !== have) {
      await response.body?.cancel();
      throw new DownloadError(`${url} answered a resume request with an unexpected range`);
    }
    start = have;
    total = range.total;
  } else if (response.status === 200) {
    // The server ignored the Range header (or there was nothing to resume): start over.
    start = 0;
    const length = Number(response.headers.get("content-length") ?? NaN);
    total = Number.isFinite(length) ? length : undefined;
  } else if (response.status === 416 && have > 0) {
    // Nothing left to send: the partial file may already be complete.
    await response.body?.cancel();
    const range = parseContentRange(response.headers.get("content-range"));
    if (range?.total === have) {
      await rename(partial, dest);
      return;
    }
    await truncate(partial, 0);
    throw new DownloadError(`${url} rejected resuming ${file}; the partial file was reset, try again`);
  } else {
    await response.body?.cancel();
    throw new DownloadError(`${url} answered HTTP ${response.status} ${response.statusText}`);
  }
  if (response.body === null) throw new DownloadError(`${url} sent no body`);

  let received = start;
  options.onProgress?.({ file, received, total });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      options.onProgress?.({ file, received, total });
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      counter,
      createWriteStream(partial, { flags: start > 0 ? "a" : "w" }),
      ...(options.signal === undefined ? [] : [{ signal: options.signal }]),
    );
  } catch (error) {
    if (options.signal?.aborted === true) throw error;
    throw new DownloadError(
      `download of ${file} from ${url} broke off after ${received} bytes (${describeFetchError(error)}); ` +
        `running again resumes it`,
      { cause: error },
    );
  }
  if (total !== undefined && received !== total) {
    throw new DownloadError(
      `download of ${file} from ${url} ended at ${received} of ${total} bytes; running again resumes it`,
    );
  }
  await rename(partial, dest);
}

/** "bytes 100-199/200" → { start: 100, total: 200 }; "bytes * /200" → { start: undefined, total: 200 }. */
export function parseContentRange(
  header: string | null,
): { start: number | undefined; total: number | undefined } | undefined {
  const match = header === null ? null : /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (match === null) return undefined;
  return {
    start: match[1] === undefined ? undefined : Number(match[1]),
    total: match[2] === undefined || match[2] === "*" ? undefined : Number(match[2]),
  };
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Undici hides the useful part ("ECONNREFUSED", "ENOTFOUND") in `cause`. */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${cause.message}` : cause.message;
  }
  return error.message;
}
