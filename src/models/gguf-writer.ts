/**
 * Streams a GGUF v3 file: header, metadata, tensor infos, padding, then each tensor's data as its
 * producer writes it. Only the header lives in memory, so a 61 GB model writes in constant memory.
 * Layout per https://github.com/ggml-org/ggml/blob/master/docs/gguf.md.
 */
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { ByteWriter, alignUp, tensorByteSize, writeKv, type GgmlTypeId, type GgufKv } from "./gguf-format.ts";

export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Receives a tensor's bytes in order; the writer checks the total matches the tensor's size. */
export interface TensorSink {
  write(chunk: Uint8Array): Promise<void>;
}

export interface GgufTensorSpec {
  name: string;
  /** ggml order: ne0 (the contiguous dimension) first. */
  shape: readonly number[];
  type: GgmlTypeId;
  /** Writes exactly the tensor's byte size to the sink, in chunks of any size. */
  write(sink: TensorSink): Promise<void>;
}

export interface GgufFileSpec {
  metadata: readonly GgufKv[];
  tensors: readonly GgufTensorSpec[];
  alignment?: number;
}

export interface GgufPlannedTensor {
  name: string;
  shape: readonly number[];
  type: GgmlTypeId;
  /** Offset from the start of the data section (as stored in the file). */
  offset: number;
  byteSize: number;
}

export interface GgufPlan {
  /** Bytes of header + metadata + tensor infos, before alignment padding. */
  headerBytes: number;
  /** Absolute file offset of the data section. */
  dataOffset: number;
  tensors: GgufPlannedTensor[];
  totalBytes: number;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const GGUF_VERSION = 3;

/** Lays out tensor offsets and encodes the header, without touching any tensor data. */
export function planGguf(spec: GgufFileSpec): { plan: GgufPlan; header: Buffer } {
  const alignment = spec.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const metadata = [...spec.metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.some((kv) => kv.key === "general.alignment")) {
    // Readers assume 32 unless this key says otherwise.
    metadata.push({ key: "general.alignment", value: { type: "u32", value: alignment } });
  }
  const names = new Set<string>();
  const tensors: GgufPlannedTensor[] = [];
  let offset = 0;
  for (const t of spec.tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    const byteSize = tensorByteSize(t.shape, t.type);
    tensors.push({ name: t.name, shape: t.shape, type: t.type, offset, byteSize });
    offset = alignUp(offset + byteSize, alignment);
  }

  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const kv of metadata) writeKv(w, kv);
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const dim of t.shape) w.u64(dim);
    w.u32(t.type);
    w.u64(t.offset);
  }
  const headerBytes = w.length;
  const dataOffset = alignUp(headerBytes, alignment);
  w.zeros(dataOffset - headerBytes);
  const last = tensors.at(-1);
  const totalBytes = dataOffset + (last === undefined ? 0 : last.offset + last.byteSize);
  return { plan: { headerBytes, dataOffset, tensors, totalBytes }, header: w.bytes() };
}

export interface WriteGgufOptions {
  /** Called after each flush to disk with bytes written so far and the final size. */
  onProgress?: (written: number, total: number) => void;
}

/** Small writes are coalesced; large ones go straight to the file without a copy. */
const BUFFER_BYTES = 4 << 20;

class BufferedFileWriter {
  readonly #fh: FileHandle;
  readonly #buf = Buffer.alloc(BUFFER_BYTES);
  readonly #total: number;
  readonly #onProgress: ((written: number, total: number) => void) | undefined;
  #used = 0;
  #written = 0;

  constructor(
    fh: FileHandle,
    total: number,
    onProgress: ((written: number, total: number) => void) | undefined,
  ) {
    this.#fh = fh;
    this.#total = total;
    this.#onProgress = onProgress;
  }

  get position(): number {
    return this.#written + this.#used;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length >= BUFFER_BYTES / 4) {
      await this.flush();
      await this.#writeAll(chunk);
      return;
    }
    if (this.#used + chunk.length > BUFFER_BYTES) await this.flush();
    this.#buf.set(chunk, this.#used);
    this.#used += chunk.length;
  }

  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const used = this.#used;
    this.#used = 0;
    await this.#writeAll(this.#buf.subarray(0, used));
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#fh.write(data, done, data.length - done);
      done += bytesWritten;
    }
    this.#written += data.length;
    this.#onProgress?.(this.#written, this.#total);
  }
}

/** Writes the file at `path` (created or truncated). Returns the plan that was written. */
export async function writeGguf(
  path: string,
  spec: GgufFileSpec,
  options: WriteGgufOptions = {},
): Promise<GgufPlan> {
  const { plan, header } = planGguf(spec);
  const fh = await open(path, "w");
  try {
    const out = new BufferedFileWriter(fh, plan.totalBytes, options.onProgress);
    await out.write(header);
    for (const [i, tensor] of spec.tensors.entries()) {
      const planned = plan.tensors[i];
      if (planned === undefined) throw new Error("unreachable: plan and spec differ");
      const start = plan.dataOffset + planned.offset;
      if (out.position < start) await out.write(new Uint8Array(start - out.position));
      let remaining = planned.byteSize;
      await tensor.write({
        write: async (chunk) => {
          if (chunk.length > remaining) {
            throw new Error(`tensor ${tensor.name}: producer wrote more than ${planned.byteSize} bytes`);
          }
          remaining -= chunk.length;
          await out.write(chunk);
        },
      });
      if (remaining !== 0) {
        throw new Error(
          `tensor ${tensor.name}: producer left ${remaining} of ${planned.byteSize} bytes unwritten`,
        );
      }
    }
    await out.flush();
  } finally {
    await fh.close();
  }
  return plan;
}
