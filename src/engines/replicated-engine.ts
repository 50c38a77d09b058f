/**
 * Several replicas of one model (one engine worker a GPU, or N on a CPU) behind the Engine
 * interface, so that the scheduler and serving above see one engine with the replicas' sequences
 * added up. Each request goes to one replica:
 *
 * - prefix affinity first: the replica that last served the longest prefix of this prompt (in
 *   64-token blocks) holds it in its KV cache, so the prompt's shared part is not computed again
 *   (`cached_tokens` stays high when a conversation or a system prompt repeats). Only a prefix of
 *   at least AFFINITY_MIN_BLOCKS blocks counts: every chat prompt starts with the same 64-token
 *   harmony system header, and sending every request after the header to the one replica that
 *   served it first kept the other GPUs idle until that one was full (64 streams on four replicas
 *   all ran on one), for a saving of a few milliseconds of prefill;
 * - unless that replica is full, or runs BALANCE_SLACK more requests than the least busy one
 *   (spill-over: a long shared system prompt would otherwise pile every request onto one replica;
 *   the one it spills to then holds the prefix too, and the two share the load);
 * - otherwise the least outstanding tokens (prompt and max_tokens of what it runs) among ready
 *   replicas;
 * - a replica that is restarting is skipped; a request whose replica died before it produced a
 *   token runs again on another one (failover), billed once.
 *
 * Warm prompts (`--warm-prompt`, engines/warm-up.ts) are in every replica's cache: the router
 * counts them as served by each from the start, and again after a replica's restart (its worker
 * warms itself before it takes requests), so a request with a warmed prefix goes to a replica that
 * holds it, the least loaded of them.
 */
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  GenerationEvent,
  GenerationRequest,
  ReplicaRouting,
} from "./engine.ts";
import { isRetryable } from "../errors/server-error.ts";

/** Prompt prefixes are compared in blocks of this many tokens. */
export const PREFIX_BLOCK = 64;
/** Prefix hashes remembered per replica (oldest dropped first). */
const PREFIXES_KEPT = 8192;
/**
 * A shorter matched prefix is no reason to prefer a replica: 256 tokens are read again in ~25 ms
 * on an H100, once; the harmony system header alone is one block, shared by every chat prompt.
 */
export const AFFINITY_MIN_BLOCKS = 4;
/**
 * The replica holding a prompt's prefix keeps it unless it runs more than this share of its
 * sequences (at least one request) beyond the least busy ready replica: then the request goes there.
 */
export const BALANCE_SLACK = 0.25;

interface Replica {
  index: number;
  engine: Engine;
  running: number;
  outstandingTokens: number;
  /** Prefix hash → nothing; a Map for its insertion order (oldest first). */
  prefixes: Map<string, true>;
  /** The worker's restart count when `prefixes` was last valid: a restarted worker's cache is empty. */
  restarts: number;
  weight: number;
  routing: ReplicaRouting;
}

/** Where #choose sends a request, and why. */
interface Choice {
  replica: Replica;
  affinity: boolean;
  spilled: boolean;
}

/** Hashes of the prompt's first 64, 128, ... tokens (two FNV-1a lanes: collisions are negligible). */
export function prefixHashes(tokens: readonly number[]): string[] {
  const out: string[] = [];
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    a = Math.imul(a ^ t, 0x01000193) >>> 0;
    b = Math.imul(b ^ (t + i), 0x5bd1e995) >>> 0;
    if ((i + 1) % PREFIX_BLOCK === 0) out.push(`${a.toString(36)}.${b.toString(36)}`);
  }
  return out;
}

export class ReplicatedEngine implements Engine {
  readonly info: EngineInfo;
  readonly #replicas: Replica[];
  /** The warm prompts' prefix hashes, which every replica holds. */
  readonly #warmed: readonly (readonly string[])[];

  /**
   * `weights`: each replica's share of the load (an upstream on a bigger node takes more): least
   * outstanding tokens compares outstanding ÷ weight. Default 1 each. `warmPrompts`: the prefixes
   * every replica was warmed with (and is again after a restart).
   */
  constructor(
    engines: readonly Engine[],
    weights: readonly number[] = [],
    warmPrompts: readonly (readonly number[])[] = [],
  ) {
    if (engines.length === 0) throw new Error("ReplicatedEngine needs at least one replica");
    const first = engines[0]!.info;
    this.#replicas = engines.map((engine, index) => ({
      index,
      engine,
      running: 0,
      outstandingTokens: 0,
      prefixes: new Map(),
      restarts: 0,
      weight: weights[index] ?? 1,
      routing: { requests: 0, completionTokens: 0, affinityHits: 0, spillOvers: 0, failovers: 0 },
    }));
    this.#warmed = warmPrompts.map(prefixHashes);
    for (const r of this.#replicas) for (const hashes of this.#warmed) remember(r, hashes);
    this.info = {
      ...first,
      maxSequences: engines.reduce((sum, e) => sum + e.info.maxSequences, 0),
      contextSize: Math.min(...engines.map((e) => e.info.contextSize)),
    };
  }

  get replicas(): readonly Engine[] {
    return this.#replicas.map((r) => r.engine);
  }

  async *generate(req: GenerationRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    const hashes = prefixHashes(req.promptTokens);
    const tried = new Set<number>();
    for (;;) {
      const { replica, affinity, spilled } = this.#choose(hashes, tried);
      const routing = replica.routing;
      routing.requests += 1;
      if (affinity) routing.affinityHits += 1;
      if (spilled) routing.spillOvers += 1;
      if (tried.size > 0) routing.failovers += 1;
      tried.add(replica.index);
      const cost = req.promptTokens.length + req.maxTokens;
      replica.running += 1;
      replica.outstandingTokens += cost;
      remember(replica, hashes);
      try {
        for await (const event of replica.engine.generate(req, signal)) {
          if (event.type === "tokens") routing.completionTokens += event.tokens.length;
          else if (event.type === "parsed") routing.completionTokens += event.tokenCount ?? 0;
          yield event;
        }
        return;
      } catch (error) {
        // Failed before its first token (a worker died, say): another ready replica runs it now.
        const elsewhere = this.#replicas.some((r) => !tried.has(r.index) && ready(r));
        if (isRetryable(error) && elsewhere) continue;
        throw error;
      } finally {
        replica.running -= 1;
        replica.outstandingTokens -= cost;
      }
    }
  }

  /** Where a request goes (see the file comment). */
  #choose(hashes: readonly string[], tried: ReadonlySet<number>): Choice {
    for (const r of this.#replicas) {
      const restarts = r.engine.health().worker?.restarts ?? 0;
      if (restarts !== r.restarts) {
        r.restarts = restarts;
        r.prefixes.clear();
        for (const hashes of this.#warmed) remember(r, hashes);
      }
    }
    const open = this.#replicas.filter((r) => !tried.has(r.index) && ready(r));
    // No replica ready (all restarting): the first untried one waits for its worker.
    if (open.length === 0) {
      const waiting = this.#replicas.find((r) => !tried.has(r.index)) ?? this.#replicas[0]!;
      return { replica: waiting, affinity: false, spilled: false };
    }
    const free = open.filter((r) => r.running < r.engine.info.maxSequences);
    const pool = free.length > 0 ? free : open;
    let best = pool[0]!;
    let bestMatch = -1;
    let lightest = pool[0]!;
    for (const r of pool) {
      const match = affineBlocks(r, hashes);
      if (match > bestMatch || (match === bestMatch && load(r) < load(best))) {
        best = r;
        bestMatch = match;
      }
      if (load(r) < load(lightest)) lightest = r;
    }
    // Too busy beside the least busy replica: the prefix is read again there instead.
    if (bestMatch > 0 && busy(best) - busy(lightest) > slack(best)) {
      best = lightest;
      bestMatch = affineBlocks(lightest, hashes);
    }
    // Spilled: a full (or much busier) replica held a longer prefix than the one chosen.
    const spilled = open.some((r) => affineBlocks(r, hashes) > bestMatch);
    return { replica: best, affinity: bestMatch > 0, spilled };
  }

  health(): EngineHealth {
    const all = this.#replicas.map((r) => r.engine.health());
    const readyCount = all.filter((h) => h.status === "ready").length;
    const status: EngineHealth["status"] =
      readyCount > 0 ? "ready" : all.some((h) => h.status === "loading") ? "loading" : "failed";
    return {
      status,
      activeSequences: all.reduce((sum, h) => sum + h.activeSequences, 0),
      ...(readyCount < all.length
        ? {
            detail: all
              .map((h, i) =>
                h.status === "ready" ? undefined : `replica ${i} ${h.status}: ${h.detail ?? ""}`,
              )
              .filter((d) => d !== undefined)
              .join("; "),
          }
        : {}),
      replicas: all.map((h, i) => {
        const r = this.#replicas[i]!;
        return { ...h, running: r.running, routing: { ...r.routing } };
      }),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#replicas.map((r) => r.engine.close()));
  }
}

/** What least-outstanding routing compares: outstanding tokens for the replica's share of the load. */
function load(r: Replica): number {
  return r.outstandingTokens / r.weight;
}

function ready(r: Replica): boolean {
  return r.engine.health().status === "ready";
}

/** Requests running on the replica, for its share of the load. */
function busy(r: Replica): number {
  return r.running / r.weight;
}

/** How many more requests than the least busy replica a replica holding the prefix may run. */
function slack(r: Replica): number {
  return Math.max(1, Math.floor(r.engine.info.maxSequences * BALANCE_SLACK));
}

/** The leading blocks this replica holds, when they are enough to prefer it (else 0). */
function affineBlocks(r: Replica, hashes: readonly string[]): number {
  const n = matchedBlocks(r, hashes);
  return n >= AFFINITY_MIN_BLOCKS ? n : 0;
}

/** How many leading blocks of the prompt this replica has seen. */
function matchedBlocks(r: Replica, hashes: readonly string[]): number {
  let n = 0;
  while (n < hashes.length && r.prefixes.has(hashes[n]!)) n++;
  return n;
}

function remember(r: Replica, hashes: readonly string[]): void {
  for (const h of hashes) {
    r.prefixes.delete(h); // re-inserted last: the newest
    r.prefixes.set(h, true);
  }
  for (const oldest of r.prefixes.keys()) {
    if (r.prefixes.size <= PREFIXES_KEPT) break;
    r.prefixes.delete(oldest);
  }
}
