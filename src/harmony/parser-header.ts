/**
 * The header of one harmony message as the parser collects it, and what it means:
 *
 *   <|start|>{role}[ to={recipient}][<|channel|>{channel}[ to={recipient}][ {type}]][ <|constrain|>{type}]<|message|>
 *
 * The recipient may stand after the role or after the channel; both are accepted (harmony.md,
 * "Tool calls and results"). Text collected here is judged as it arrives so that output which is
 * not a header at all (a random-weight model's noise, a model that forgot `<|message|>`) is caught
 * within a few tokens and shown to the user as text instead of being held back.
 */

export const KNOWN_CHANNELS: ReadonlySet<string> = new Set(["analysis", "commentary", "final"]);

/** Real headers are short: "commentary to=functions.<64-char name> <|constrain|>json". */
const MAX_HEADER_CHARS = 256;
const MAX_HEADER_TOKENS = 64;
const MAX_CHANNEL_WORDS = 4;
const MAX_CONSTRAIN_WORDS = 2;

/** What may precede `<|channel|>` once the role is known: nothing, or " to=recipient". */
const RECIPIENT_PREFIX = /^\s?(?:t|to|to=\S*\s?)?$/;
/** After `<|start|>`: a role word, then optionally " to=recipient". */
const ROLE_PREFIX = /^\S*(?:\s(?:t|to|to=\S*\s?)?)?$/;

export type HeaderPart = "role" | "channel" | "constrain";

export class HeaderDraft {
  /** True for the first message: the prompt ended with `<|start|>assistant`. */
  readonly roleGiven: boolean;
  part: HeaderPart;
  role = "";
  channel = "";
  constrain = "";
  sawChannel = false;
  tokens = 0;

  constructor(roleGiven: boolean, part: HeaderPart = "role") {
    this.roleGiven = roleGiven;
    this.part = part;
    if (part === "channel") this.sawChannel = true;
  }

  append(text: string): void {
    if (this.part === "role") this.role += text;
    else if (this.part === "channel") this.channel += text;
    else this.constrain += text;
  }

  /** Why the text so far cannot be (the start of) a header, or undefined while it still can. */
  implausibility(): string | undefined {
    if (this.tokens > MAX_HEADER_TOKENS) return "header too long";
    if (this.role.length + this.channel.length + this.constrain.length > MAX_HEADER_CHARS)
      return "header too long";
    if (this.role.includes("\n") || this.channel.includes("\n") || this.constrain.includes("\n")) {
      return "newline in header";
    }
    if (!(this.roleGiven ? RECIPIENT_PREFIX : ROLE_PREFIX).test(this.role))
      return "text where a role was expected";
    if (words(this.channel).length > MAX_CHANNEL_WORDS) return "too many words after <|channel|>";
    if (words(this.constrain).length > MAX_CONSTRAIN_WORDS) return "too many words after <|constrain|>";
    return undefined;
  }

  /** Reads the completed header (at `<|message|>`). */
  interpret(): HeaderMeaning {
    const problems: string[] = [];
    let role: string | undefined = this.roleGiven ? "assistant" : undefined;
    let recipient: string | undefined;
    let channel: string | undefined;
    let contentType: string | undefined;
    for (const w of words(this.role)) {
      if (w.startsWith("to=")) recipient ??= w.slice(3);
      else if (role === undefined) role = w;
      else problems.push(`unexpected '${w}' in header`);
    }
    for (const w of words(this.channel)) {
      if (w.startsWith("to=")) recipient ??= w.slice(3);
      else if (channel === undefined) channel = w;
      // The official chat template writes "commentary json" without <|constrain|>.
      else contentType ??= w;
    }
    const constrained = words(this.constrain)[0];
    if (constrained !== undefined) contentType = constrained;
    if (role === undefined) problems.push("missing role");
    else if (role !== "assistant") problems.push(`unexpected role '${role}'`);
    if (recipient === "all") recipient = undefined;
    if (recipient !== undefined && (recipient === "" || recipient === "assistant" || recipient === "user")) {
      problems.push(`unusable recipient '${recipient}'`);
      recipient = undefined;
    }
    if (channel === undefined) problems.push("missing channel");
    else if (!KNOWN_CHANNELS.has(channel)) problems.push(`unknown channel '${channel}'`);
    return { channel, recipient, contentType, problems };
  }

  /**
   * Best-effort reading of a header that turned out not to be one: a known channel name (if the
   * text started with one after `<|channel|>`) and the text to show.
   */
  salvage(): { channel: string | undefined; text: string } {
    const channelWord = /^\s?(\S+)\s?/.exec(this.channel);
    if (this.sawChannel && channelWord?.[1] !== undefined && KNOWN_CHANNELS.has(channelWord[1])) {
      return { channel: channelWord[1], text: this.channel.slice(channelWord[0].length) + this.constrain };
    }
    const role = this.roleGiven ? this.role : this.role.replace(/^assistant(?:\s|$)/, "");
    return { channel: undefined, text: role + this.channel + this.constrain };
  }
}

export interface HeaderMeaning {
  channel: string | undefined;
  recipient: string | undefined;
  contentType: string | undefined;
  /** Deviations from the format; each becomes one parse-error event. */
  problems: string[];
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}
