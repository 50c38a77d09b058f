/** Whether a command is on PATH: tests that need a compiler or build tool skip, saying so, without it. */
import { spawnSync } from "node:child_process";

export function hasTool(name: string): boolean {
  return spawnSync("/bin/sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" }).status === 0;
}
