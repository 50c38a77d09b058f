/**
 * The profiles as this server runs them: the v4.5.1 values of profiles.ts, with each maxBatchSize
 * replaced by `config.maxBatchSize` when that is set, and never above the sequences the engine runs
 * at once (`--parallel` times the engine's replicas, or on upstreams what they take together:
 * sequenceCapacity), so a larger cap
 * could never be reached; clamping it here keeps what /health and /profiles report equal to what
 * the scheduler can do. (A gateway once capped its 64-stream upstream at the default --parallel 16.)
 *
 * Whoever builds a scheduler Job or reports a profile reads it from here, not from PROFILES, so the
 * scheduler's per-profile cap (job.profile.maxBatchSize) is the effective one.
 */
import { PROFILE_NAMES, PROFILES, type Profile, type ProfileName } from "./profiles.ts";
import { sequenceCapacity, type ServerConfig } from "./schema.ts";

export type EffectiveProfiles = Readonly<Record<ProfileName, Readonly<Profile>>>;

type CapConfig = Pick<
  ServerConfig,
  "maxBatchSize" | "parallel" | "engine" | "upstream" | "upstreamParallel"
> &
  Partial<Pick<ServerConfig, "gpus" | "replicas" | "replicasPerGpu">>;

// The config is frozen and loaded once: compute its profiles once, not per request.
const cache = new WeakMap<CapConfig, EffectiveProfiles>();

export function effectiveProfiles(config: CapConfig): EffectiveProfiles {
  const cached = cache.get(config);
  if (cached !== undefined) return cached;
  const entries = PROFILE_NAMES.map((name) => {
    const base = PROFILES[name];
    const cap = Math.min(config.maxBatchSize ?? base.maxBatchSize, sequenceCapacity(config));
    return [name, Object.freeze({ ...base, maxBatchSize: cap })] as const;
  });
  const profiles = Object.freeze(Object.fromEntries(entries) as Record<ProfileName, Readonly<Profile>>);
  cache.set(config, profiles);
  return profiles;
}
