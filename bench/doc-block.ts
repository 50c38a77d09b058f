/**
 * Writes a benchmark's result into docs/benchmarks.md between its markers
 * (`<!-- bench:NAME:start -->` … `<!-- bench:NAME:end -->`), so a rerun replaces its own block and
 * leaves the hand-written readings around it alone. A block not there yet is appended.
 */
import { readFileSync, writeFileSync } from "node:fs";

export function writeDocBlock(name: string, text: string): void {
  const docPath = new URL("../docs/benchmarks.md", import.meta.url);
  const doc = readFileSync(docPath, "utf8");
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${text}\n${end}`;
  writeFileSync(
    docPath,
    doc.includes(start) && doc.includes(end)
      ? doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length)
      : `${doc}\n${block}\n`,
  );
}
