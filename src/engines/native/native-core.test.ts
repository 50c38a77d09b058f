import { describe, expect, it } from "vitest";
import { findLibllama } from "./native-core.ts";

const line = (path: string): string =>
  `7f2a1c000000-7f2a1c100000 r-xp 00000000 08:01 1234567                    ${path}`;
const bins = "/app/node_modules/@node-llama-cpp";

describe("findLibllama", () => {
  it("finds the CPU, CUDA and Vulkan builds' library, not libllama-common", () => {
    for (const name of [
      "libllama.v0.5.0.so",
      "libllama.cuda.v0.5.0.so",
      "libllama.vulkan.v0.5.0.so",
      "libllama.so",
    ]) {
      const path = `${bins}/linux-x64-cuda/bins/linux-x64-cuda/${name}`;
      const maps = [line(`${bins}/linux-x64-cuda/bins/linux-x64-cuda/libllama-common.so`), line(path)].join(
        "\n",
      );
      expect(findLibllama(maps)).toBe(path);
    }
  });

  it("finds nothing when no libllama is mapped", () => {
    expect(
      findLibllama([line("/usr/lib/libc.so.6"), line(`${bins}/x/libllama-common.so`)].join("\n")),
    ).toBeUndefined();
  });
});
