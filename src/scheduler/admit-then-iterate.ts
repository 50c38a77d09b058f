/**
 * `Scheduler.run`'s iterable: admission happens in the first next() (so its errors are thrown
 * there), then every next() goes straight to the ticket, adding nothing per event.
 */
import type { SchedulerEvent, Ticket } from "./scheduler-types.ts";

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export function admitThenIterate(admit: () => Promise<Ticket>): AsyncIterable<SchedulerEvent> {
  let ticket: Ticket | null = null;
  let returned = false;
  const first = async (): Promise<IteratorResult<SchedulerEvent>> => {
    const admitted = await admit();
    ticket = admitted;
    if (!returned) return admitted.next();
    // The consumer left while the job waited for a slot: give the slot straight back.
    return admitted.return();
  };
  const iterator: AsyncIterator<SchedulerEvent> = {
    next: () => (ticket === null ? first() : ticket.next()),
    return: () => {
      returned = true;
      return ticket === null ? Promise.resolve(DONE) : ticket.return();
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
