/**
 * Who made each request in flight, so that `POST /v1/cancel/{id}` acts only for its maker.
 *
 * - Our ids are random (request-id.ts): knowing one means having seen the response's header.
 * - With API keys set, a cancel must carry the key that made the request; another key's request
 *   answers exactly as an unknown id (its existence is not disclosed). Under that rule a client's
 *   own X-Request-Id is a safe handle too (only its maker can use it), which lets a client cancel a
 *   non-streaming or still-queued request before any header reached it.
 * - Without keys, only our ids cancel: a client-chosen id may be guessable.
 */
import type { Principal } from "./auth.ts";

interface Owner {
  principal: Principal;
  clientId: string | undefined;
}

export class RequestOwners {
  readonly #owners = new Map<string, Owner>();
  /** `<key index>:<client id>` → our id; only filled when requests carry keys. */
  readonly #byClientId = new Map<string, string>();

  register(requestId: string, principal: Principal, clientId: string | undefined): void {
    this.#owners.set(requestId, { principal, clientId });
    if (clientId !== undefined && principal.kind === "key") {
      this.#byClientId.set(`${principal.index}:${clientId}`, requestId);
    }
  }

  release(requestId: string): void {
    const owner = this.#owners.get(requestId);
    if (owner === undefined) return;
    this.#owners.delete(requestId);
    if (owner.clientId !== undefined && owner.principal.kind === "key") {
      const key = `${owner.principal.index}:${owner.clientId}`;
      if (this.#byClientId.get(key) === requestId) this.#byClientId.delete(key);
    }
  }

  /** Our id of the request `id` names that `who` may cancel, or undefined. */
  resolve(id: string, who: Principal): string | undefined {
    const owner = this.#owners.get(id);
    if (owner !== undefined) return mayAct(who, owner.principal) ? id : undefined;
    if (who.kind !== "key") return undefined;
    return this.#byClientId.get(`${who.index}:${id}`);
  }

  get size(): number {
    return this.#owners.size;
  }
}

/** Whether `who` may act on a request made by `owner`: the same key, or no keys at all. */
function mayAct(who: Principal, owner: Principal): boolean {
  if (owner.kind === "anonymous") return true;
  return who.kind === "key" && owner.kind === "key" && who.index === owner.index;
}
