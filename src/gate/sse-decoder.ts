/**
 * Incremental text/event-stream decoder (WHATWG HTML "server-sent events", 9.2.6): lines end in
 * LF, CR or CRLF; an empty line dispatches the event; `data:` lines (one optional space after the
 * colon) join with "\n"; lines starting with ":" are comments (keep-alives). Only `data` matters to
 * OpenAI streams, so other fields are ignored.
 */
export class SseDecoder {
  #buffer = "";
  #data: string[] = [];
  #pendingCr = false;

  /** Feeds a piece of the body; returns the data of every event it completed. */
  push(text: string): string[] {
    const events: string[] = [];
    let input = text;
    // A CR at the end of the previous piece may be the first half of a CRLF.
    if (this.#pendingCr && input.startsWith("\n")) input = input.slice(1);
    this.#pendingCr = false;
    this.#buffer += input;
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      this.#line(this.#buffer.slice(start, i), events);
      if (c === "\r") {
        if (i + 1 === this.#buffer.length) this.#pendingCr = true;
        else if (this.#buffer[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string, events: string[]): void {
    if (line === "") {
      if (this.#data.length > 0) events.push(this.#data.join("\n"));
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== "data") return;
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    this.#data.push(value);
  }
}
