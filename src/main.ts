/**
 * Process entry: the CLI, and the only process.exit() in the code base.
 */
import { buildProgram } from "./cli/program.ts";
import { serveCommand } from "./cli/serve.ts";
import { runBench } from "./gate/bench-command.ts";
import { runGate } from "./gate/gate-command.ts";
import { makeModelCommand } from "./models/make-model.ts";
import { renderCommand } from "./cli/render-command.ts";
import type { DenseType, GptOssSize } from "./models/gpt-oss-plan.ts";

let exitCode = 0;
const program = buildProgram(
  {
    serve: serveCommand,
    makeModel: async ({ size, out, seed, denseType }) => {
      await makeModelCommand({ size: size as GptOssSize, out, seed, denseType: denseType as DenseType });
      return 0;
    },
    render: renderCommand,
    gate: (options) => runGate(options),
    bench: (options) => runBench(options),
  },
  (code) => {
    exitCode = code;
  },
);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`gpt-oss-server: ${error instanceof Error ? error.message : String(error)}\n`);
  exitCode = 1;
}
process.exit(exitCode);
