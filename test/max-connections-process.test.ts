/**
 * --max-connections in the server process (fake engine): with the cap reached, a further
 * connection is closed at accept without an answer; once the held ones close, the server answers
 * again. Raw sockets with `Connection: close` throughout, so that no pooled keep-alive connection
 * of this test's own HTTP client holds one of the few slots.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRawResponse, rawRequest, type RawResponse } from "./helpers/raw-http.ts";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.ts";

const CAP = 3;
let server: ServerProcess;
let port: number;

const live = "GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/** Polls until `probe` holds (no sleeps that guess a duration: each try is a real request). */
async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}

beforeAll(async () => {
  server = await startServerProcess(["--engine", "fake", "--max-connections", String(CAP)]);
  port = Number(new URL(server.url).port);
  await pollUntil(async () => (await rawRequest(port, live)).status === 200, 30_000);
});
afterAll(async () => {
  await server.stop();
});

/**
 * A keep-alive connection that has been served once (so the server has surely accepted it). The
 * server may still count a connection the previous probe closed a moment ago, and then closes this
 * one at accept: such an attempt is made again (polling, as the slot frees when the server sees it).
 */
async function heldConnection(): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    const socket = connect(port, "127.0.0.1");
    socket.setEncoding("utf8");
    socket.on("error", () => undefined);
    let data = "";
    const served = await new Promise<boolean>((resolve) => {
      socket.on("data", (d: string) => {
        data += d;
        if (data.includes('"alive"')) resolve(true);
      });
      socket.on("close", () => resolve(false));
      socket.write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    if (served) {
      expect(parseRawResponse(data).status).toBe(200);
      return socket;
    }
    if (attempt >= 200) throw new Error("no connection slot came free");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends a request on a new connection; resolves with what came back before the server closed it. */
async function tryConnection(): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  socket.on("error", () => undefined);
  let data = "";
  socket.on("data", (d: string) => (data += d));
  socket.on("connect", () => socket.write(live));
  // Not events.once: it rejects on the 'error' a refused connection may bring (ECONNRESET when the
  // server resets rather than closes it); both mean the same here.
  await new Promise((resolve) => socket.on("close", resolve));
  return data;
}

describe("--max-connections", () => {
  it(`with ${CAP} connections open a further one is closed unanswered; after they close the server answers`, async () => {
    const held: Socket[] = [];
    for (let i = 0; i < CAP; i++) held.push(await heldConnection());
    expect(await tryConnection()).toBe("");
    for (const socket of held) socket.destroy();
    // The server counts a connection gone once it sees the close: poll rather than wait.
    let answer: RawResponse | undefined;
    await pollUntil(async () => {
      answer = await rawRequest(port, live);
      return answer.status === 200;
    }, 10_000);
    expect(JSON.parse(answer!.body)).toEqual({ status: "alive" });
    expect(server.output()).not.toMatch(/"level_name":"ERROR"/);
  });
});
