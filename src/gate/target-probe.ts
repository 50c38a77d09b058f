/**
 * What the target is: which model to ask for, and whether it is our server (its extras: /health
 * with model_info, X-Request-Id, POST /v1/cancel/{id}, the `profile` field). Any other
 * OpenAI-compatible server is fine; phases needing our extras are then skipped with a note.
 */
import type { GateClock } from "./gate-clock.ts";
import type { TargetClient } from "./target-client.ts";

export interface TargetInfo {
  model: string;
  models: string[];
  extras: boolean;
  randomWeights: boolean | null;
  /** /health's status field ("healthy", "degraded", ...) on our server. */
  healthStatus: string | null;
  /** Why the target is unusable (no model, unhealthy); undefined when it can be tested. */
  problem?: string;
  notes: string[];
}

interface HealthLike {
  status?: unknown;
  model_info?: { random_weights?: unknown; models?: unknown };
}

/**
 * Probes /health and /v1/models. While our server says "loading" (503) it waits up to `waitReadyMs`.
 * Throws TargetUnreachableError when nothing answers at all.
 */
export async function probeTarget(
  client: TargetClient,
  options: { model?: string; waitReadyMs: number; clock: GateClock; log: (line: string) => void },
): Promise<TargetInfo> {
  const notes: string[] = [];
  const deadline = options.clock.now() + options.waitReadyMs;
  let health = await client.getJson("/health", 10_000);
  let body = health.body as HealthLike | undefined;
  let announced = false;
  while (health.status === 503 && body?.status === "loading" && options.clock.now() < deadline) {
    if (!announced) options.log("server is loading its model; waiting");
    announced = true;
    await options.clock.sleepUntil(options.clock.now() + 500);
    health = await client.getJson("/health", 10_000);
    body = health.body as HealthLike | undefined;
  }
  const extras = typeof body === "object" && body !== null && typeof body.model_info === "object";
  const healthStatus = extras && typeof body?.status === "string" ? body.status : null;
  const randomWeights =
    extras && typeof body?.model_info?.random_weights === "boolean" ? body.model_info.random_weights : null;
  if (!extras) {
    notes.push(
      health.status === 200
        ? "/health answers but without model_info: not gpt-oss-server; its extras are not used"
        : `no gpt-oss-server /health (HTTP ${health.status}); profiles, cancel and server stats are skipped`,
    );
  }
  if (randomWeights === true)
    notes.push("the model has random weights: its output is noise, its speed is real");

  const listed = await client.getJson("/v1/models", 10_000);
  const data = (listed.body as { data?: Array<{ id?: unknown }> } | undefined)?.data;
  const models = Array.isArray(data)
    ? data.map((m) => m.id).filter((id): id is string => typeof id === "string")
    : [];
  const model = options.model ?? models[0];
  const info: TargetInfo = { model: model ?? "", models, extras, randomWeights, healthStatus, notes };
  if (model === undefined) {
    info.problem = `GET /v1/models answered HTTP ${listed.status} with no model id; pass --model`;
  } else if (extras && health.status !== 200) {
    info.problem = `GET /health answered HTTP ${health.status} (status ${String(body?.status)})`;
  } else if (healthStatus === "unhealthy") {
    info.problem = "GET /health says unhealthy";
  }
  return info;
}
