/**
 * Model registry: turns `--model` (tiny | 20b | 120b | path/to/file.gguf) into a GGUF path on disk,
 * downloading the official ggml-org files when allowed. Every failure is a ModelUnavailableError whose
 * message tells the user what to do; no stack trace is meant to reach them.
 */
import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { DownloadError, downloadFile, type DownloadProgress } from "./download.ts";
import { createDownloadProgressBar } from "./download-progress-bar.ts";
import { ensureTinyModel } from "./tiny-model.ts";

export type ModelSize = "tiny" | "20b" | "120b" | "file";

export interface ResolvedModel {
  path: string;
  modelId: string;
  size: ModelSize;
  /** True for the project's own random-weight GGUFs (metadata gpt_oss_server.random_weights). */
  randomWeights: boolean;
}

export interface ResolveModelOptions {
  modelsDir: string;
  cacheDir: string;
  allowDownload: boolean;
  /** Defaults to a progress bar on stderr when it is a terminal. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Where the official files are fetched from; tests point this at a local server. */
  downloadBaseUrl?: string;
  signal?: AbortSignal;
}

/** The model cannot be used: missing, not downloadable, or not a gpt-oss GGUF. */
export class ModelUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModelUnavailableError";
  }
}

export const HUGGING_FACE_BASE_URL = "https://huggingface.co";

/** The official GGUFs (https://huggingface.co/ggml-org/gpt-oss-20b-GGUF, -120b-GGUF). */
export const OFFICIAL_MODELS = {
  "20b": { repo: "ggml-org/gpt-oss-20b-GGUF", files: ["gpt-oss-20b-mxfp4.gguf"] },
  "120b": {
    repo: "ggml-org/gpt-oss-120b-GGUF",
    files: [1, 2, 3].map((n) => `gpt-oss-120b-mxfp4-0000${n}-of-00003.gguf`),
  },
} as const satisfies Record<"20b" | "120b", { repo: string; files: readonly string[] }>;

export async function resolveModel(spec: string, options: ResolveModelOptions): Promise<ResolvedModel> {
  if (spec === "tiny") {
    let path: string;
    try {
      path = await ensureTinyModel(options.cacheDir);
    } catch (error) {
      throw new ModelUnavailableError(
        `cannot create the tiny model under ${options.cacheDir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return { path, modelId: "gpt-oss-tiny", size: "tiny", randomWeights: true };
  }
  if (spec === "20b" || spec === "120b") {
    const path = await resolveOfficial(spec, options);
    const { randomWeights } = await inspectGptOssGguf(path);
    return { path, modelId: `gpt-oss-${spec}`, size: spec, randomWeights };
  }
  if (spec.toLowerCase().endsWith(".gguf")) {
    const path = resolve(spec);
    if (!(await isFile(path))) throw new ModelUnavailableError(`model file not found: ${path}`);
    const { randomWeights } = await inspectGptOssGguf(path);
    return { path, modelId: basename(path).replace(/\.gguf$/i, ""), size: "file", randomWeights };
  }
  throw new ModelUnavailableError(`unknown model "${spec}": use tiny, 20b, 120b or a path to a .gguf file`);
}

async function resolveOfficial(size: "20b" | "120b", options: ResolveModelOptions): Promise<string> {
  const { repo, files } = OFFICIAL_MODELS[size];
  const base = (options.downloadBaseUrl ?? HUGGING_FACE_BASE_URL).replace(/\/+$/, "");
  const urlOf = (file: string): string => `${base}/${repo}/resolve/main/${file}`;
  const paths = files.map((file) => join(options.modelsDir, file));
  const missing: string[] = [];
  for (const [i, file] of files.entries()) {
    if (!(await isFile(paths[i] ?? ""))) missing.push(file);
  }
  const firstPath = paths[0] ?? "";
  if (missing.length === 0) return firstPath;

  const howToFix =
    `put ${missing.join(", ")} into ${options.modelsDir} (from ${missing.map(urlOf).join(", ")}), ` +
    `or pass --model path/to/file.gguf (gpt-oss-server make-model --size ${size} --out FILE writes one with random weights)`;
  if (!options.allowDownload) {
    throw new ModelUnavailableError(
      `gpt-oss-${size} is not available locally and downloads are off: ${howToFix}`,
    );
  }
  const bar = options.onProgress === undefined ? createDownloadProgressBar() : undefined;
  try {
    for (const file of missing) {
      await downloadFile({
        url: urlOf(file),
        dest: join(options.modelsDir, file),
        onProgress: options.onProgress ?? ((p) => bar?.update(p)),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    }
  } catch (error) {
    // An abort is the caller's decision, not a missing model; network and disk failures are.
    if (options.signal?.aborted === true) throw error;
    const reason = error instanceof DownloadError ? error.message : String((error as Error).message);
    throw new ModelUnavailableError(`gpt-oss-${size} could not be downloaded (${reason}): ${howToFix}`, {
      cause: error,
    });
  } finally {
    bar?.stop();
  }
  return firstPath;
}

/** Metadata this project needs from a GGUF; validates that it is a gpt-oss model. */
export async function inspectGptOssGguf(
  path: string,
): Promise<{ randomWeights: boolean; name: string | undefined }> {
  const { readGgufFileInfo } = await import("node-llama-cpp");
  let metadata: Record<string, unknown>;
  try {
    const info = await readGgufFileInfo(path, {
      readTensorInfo: false,
      spliceSplitFiles: false,
      logWarnings: false,
      // The vocabulary arrays are most of the header; skipping them keeps this quick.
      ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"],
    });
    metadata = info.metadata;
  } catch (error) {
    throw new ModelUnavailableError(`${path} is not a readable GGUF file (${(error as Error).message})`, {
      cause: error,
    });
  }
  const general = asRecord(metadata["general"]);
  const architecture = general["architecture"];
  if (architecture !== "gpt-oss") {
    throw new ModelUnavailableError(
      `${path} is a "${String(architecture)}" model; this server runs gpt-oss models only`,
    );
  }
  const ours = asRecord(metadata["gpt_oss_server"]);
  const name = general["name"];
  return {
    randomWeights: ours["random_weights"] === true,
    name: typeof name === "string" ? name : undefined,
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
