/** Test double: a pino destination that keeps every line it is given, parsed. */
export class CapturingStreamForTest {
  readonly lines: Record<string, unknown>[] = [];

  write(chunk: string): void {
    for (const line of chunk.split("\n"))
      if (line !== "") this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
}
