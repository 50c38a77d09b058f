import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DownloadProgress } from "./download.ts";
import { startFileServerForTest, unusedPortForTest, type FileServerForTest } from "./file-server-for-test.ts";
import { writeGguf } from "./gguf-writer.ts";
import { ModelUnavailableError, resolveModel } from "./registry.ts";

/** Built by test/global-setup.ts before any test file runs. */
function tinyPath(): string {
  const path = process.env["GPTOSS_TINY_MODEL"];
  if (path === undefined)
    throw new Error("GPTOSS_TINY_MODEL is unset: run through vitest (test/global-setup.ts)");
  return path;
}

/** A header-only GGUF: enough for the registry's metadata checks. */
async function smallGguf(path: string, architecture: string): Promise<Buffer> {
  await writeGguf(path, {
    metadata: [{ key: "general.architecture", value: { type: "string", value: architecture } }],
    tensors: [],
  });
  return readFile(path);
}

let dir: string;
let server: FileServerForTest;
let officialLike: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "registry-"));
  officialLike = await smallGguf(join(dir, "official-like.gguf"), "gpt-oss");
  server = await startFileServerForTest({
    "/ggml-org/gpt-oss-20b-GGUF/resolve/main/gpt-oss-20b-mxfp4.gguf": officialLike,
    ...Object.fromEntries(
      [1, 2, 3].map((n) => [
        `/ggml-org/gpt-oss-120b-GGUF/resolve/main/gpt-oss-120b-mxfp4-0000${n}-of-00003.gguf`,
        officialLike,
      ]),
    ),
  });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const options = (modelsDir: string, extra: Partial<Parameters<typeof resolveModel>[1]> = {}) => ({
  modelsDir,
  cacheDir: join(dir, "unused-cache"),
  allowDownload: true,
  downloadBaseUrl: server.baseUrl,
  onProgress: () => undefined,
  ...extra,
});

describe("resolveModel", () => {
  it("tiny → the cached tiny model", async () => {
    const cacheDir = dirname(dirname(tinyPath()));
    const resolved = await resolveModel("tiny", { ...options(join(dir, "m-tiny")), cacheDir });
    expect(resolved).toEqual({
      path: tinyPath(),
      modelId: "gpt-oss-tiny",
      size: "tiny",
      randomWeights: true,
    });
  });

  it("a .gguf path → that file, id from its name, random flag from its metadata", async () => {
    const resolved = await resolveModel(tinyPath(), options(join(dir, "m-file")));
    expect(resolved).toEqual({
      path: tinyPath(),
      modelId: "gpt-oss-tiny-random-v1",
      size: "file",
      randomWeights: true,
    });
    const real = join(dir, "real-looking.gguf");
    await writeFile(real, officialLike);
    expect(await resolveModel(real, options(join(dir, "m-file")))).toMatchObject({
      modelId: "real-looking",
      randomWeights: false,
    });
  });

  it("rejects missing files, non-GGUF files and other architectures clearly", async () => {
    await expect(resolveModel(join(dir, "nope.gguf"), options(dir))).rejects.toThrow(
      /model file not found: .*nope\.gguf/,
    );
    const junk = join(dir, "junk.gguf");
    await writeFile(junk, "definitely not a gguf file");
    await expect(resolveModel(junk, options(dir))).rejects.toThrow(/not a readable GGUF/);
    const llama = join(dir, "llama.gguf");
    await smallGguf(llama, "llama");
    await expect(resolveModel(llama, options(dir))).rejects.toThrow(
      /"llama" model; this server runs gpt-oss/,
    );
    await expect(resolveModel("7b", options(dir))).rejects.toThrow(ModelUnavailableError);
  });

  it("20b → a local official file without downloading", async () => {
    const modelsDir = join(dir, "m-local");
    await mkdir(modelsDir, { recursive: true });
    await writeFile(join(modelsDir, "gpt-oss-20b-mxfp4.gguf"), officialLike);
    const before = server.ranges.length;
    const resolved = await resolveModel("20b", options(modelsDir));
    expect(resolved).toEqual({
      path: join(modelsDir, "gpt-oss-20b-mxfp4.gguf"),
      modelId: "gpt-oss-20b",
      size: "20b",
      randomWeights: false,
    });
    expect(server.ranges.length).toBe(before);
  });

  it("20b → downloads the official file with progress when missing", async () => {
    const modelsDir = join(dir, "m-download");
    const seen: DownloadProgress[] = [];
    const resolved = await resolveModel("20b", options(modelsDir, { onProgress: (p) => seen.push(p) }));
    expect(resolved.path).toBe(join(modelsDir, "gpt-oss-20b-mxfp4.gguf"));
    expect(Buffer.from(await readFile(resolved.path)).equals(officialLike)).toBe(true);
    expect(seen.at(-1)).toEqual({
      file: "gpt-oss-20b-mxfp4.gguf",
      received: officialLike.length,
      total: officialLike.length,
    });
  });

  it("120b → downloads all three shards and returns the first", async () => {
    const modelsDir = join(dir, "m-120b");
    const files = new Set<string>();
    const resolved = await resolveModel("120b", options(modelsDir, { onProgress: (p) => files.add(p.file) }));
    expect(resolved.path).toBe(join(modelsDir, "gpt-oss-120b-mxfp4-00001-of-00003.gguf"));
    expect(resolved.modelId).toBe("gpt-oss-120b");
    expect([...files]).toEqual([1, 2, 3].map((n) => `gpt-oss-120b-mxfp4-0000${n}-of-00003.gguf`));
  });

  it("offline → ModelUnavailableError naming the file, the folder and the URL", async () => {
    const modelsDir = join(dir, "m-offline");
    const port = await unusedPortForTest();
    const base = `http://127.0.0.1:${port}`;
    const error: unknown = await resolveModel("20b", options(modelsDir, { downloadBaseUrl: base })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain("gpt-oss-20b-mxfp4.gguf");
    expect(message).toContain(modelsDir);
    expect(message).toContain(`${base}/ggml-org/gpt-oss-20b-GGUF/resolve/main/gpt-oss-20b-mxfp4.gguf`);
    expect(message).toContain("ECONNREFUSED");
  });

  it("downloads off → ModelUnavailableError without touching the network", async () => {
    const before = server.ranges.length;
    await expect(resolveModel("20b", options(join(dir, "m-off"), { allowDownload: false }))).rejects.toThrow(
      /downloads are off: put gpt-oss-20b-mxfp4\.gguf into .*m-off/,
    );
    expect(server.ranges.length).toBe(before);
  });
});
