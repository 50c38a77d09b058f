/**
 * A local HTTP file server for download tests (127.0.0.1, random port). Serves fixed files with
 * Range support, records the Range headers it saw, and can cut a response off midway.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FileServerForTest {
  baseUrl: string;
  /** Range header of each request, or null when none was sent. */
  readonly ranges: (string | null)[];
  /** The next response for a full or ranged body stops after this many body bytes. */
  cutNextResponseAfter(bytes: number): void;
  close(): Promise<void>;
}

export async function startFileServerForTest(files: Record<string, Uint8Array>): Promise<FileServerForTest> {
  const ranges: (string | null)[] = [];
  let cutAfter: number | undefined;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    ranges.push(req.headers.range ?? null);
    const body = files[req.url ?? ""];
    if (body === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    let start = 0;
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (match !== null) {
      start = Number(match[1]);
      if (start >= body.length) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        "content-length": body.length - start,
        "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { "content-length": body.length });
    }
    const rest = body.subarray(start);
    if (cutAfter !== undefined) {
      const cut = cutAfter;
      cutAfter = undefined;
      res.write(rest.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    ranges,
    cutNextResponseAfter: (bytes) => {
      cutAfter = bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function unusedPortForTest(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
