/**
 * What every boundary shares (host ⇄ worker, host ⇄ graph editor, host ⇄ training panel, and the run
 * folder's files): one parse result with the path of the first error, request ids, and a receiver
 * that validates each incoming message, logs every one it rejects and answers a rejected request.
 * The schemas of each boundary live in protocol.ts, editorProtocol.ts and panelProtocol.ts.
 */
import { z } from 'zod';

/** A validated value, or a sentence naming what was parsed, where (the first error's path) and what is wrong. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** `stages[1].epochs`, `request.stages`, `(root)`: a zod issue path as people read it. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out || '(root)';
}

/** The first issue of a failed parse as `path: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${formatIssuePath(issue.path)}: ${issue.message}` : 'invalid';
}

/** Validate `raw` against `schema`; on failure the sentence starts with `what` ("Malformed host message", a file's path). */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, what: string): Parsed<z.output<S>> {
  const r = schema.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: `${what}: ${firstIssue(r.error)}` };
}

/** Request ids: positive integers, unique per sender. */
export const RequestIdSchema = z.number().int().min(1);

/** A message the sender may number: its shape plus an optional request `id`. */
export function request<T extends z.ZodRawShape>(shape: T) {
  return z.object({ ...shape, id: RequestIdSchema.optional() }).strict();
}

/** The answer to a message that did not validate, on every boundary whose sender can show it (the webviews, the host). */
export const RejectedSchema = z.object({ type: z.literal('rejected'), inReplyTo: z.number().int().optional(), error: z.string() }).strict();

/** The id a message carries (`id`), read without trusting anything else in it: a rejected request is answered by it. */
export function requestIdOf(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null || !('id' in raw)) return undefined;
  const parsed = RequestIdSchema.safeParse(raw.id);
  return parsed.success ? parsed.data : undefined;
}

/** The message type of a raw message, for log lines ("a 'start' message"). */
function typeOf(raw: unknown): string | undefined {
  return typeof raw === 'object' && raw !== null && 'type' in raw && typeof raw.type === 'string' ? raw.type.slice(0, 40) : undefined;
}

/** Hands out request ids 1, 2, 3, … for one sender. */
export class RequestIds {
  private last = 0;
  next(): number {
    return ++this.last;
  }
}

/** The answer to a message the receiver could not accept: the sentence, and the request's id when it had one. */
export interface Rejection {
  readonly inReplyTo: number | undefined;
  readonly type: string | undefined;
  readonly error: string;
}

export interface ReceiverOptions {
  /** Who sent it, in the sentence: "host", "worker", "editor", "panel". */
  readonly from: string;
  /** Every rejected message gets a line here. */
  readonly log: (line: string) => void;
  /** Answer a rejected message (a request gets its failure reply); omitted where nobody waits for one. */
  readonly reject?: (rejection: Rejection) => void;
  /** The most characters (as JSON) a message of this type may have; larger ones are rejected before validation. */
  readonly maxChars?: (type: string | undefined) => number;
}

/**
 * The receiving end of a boundary: `receive(raw)` returns the validated message, or undefined after
 * logging the sentence and answering the sender through `reject`.
 */
export function createReceiver<S extends z.ZodType>(schema: S, opts: ReceiverOptions): (raw: unknown) => z.output<S> | undefined {
  return (raw) => {
    const type = typeOf(raw);
    const tooBig = opts.maxChars ? oversized(raw, opts.maxChars(type)) : undefined;
    const parsed: Parsed<z.output<S>> = tooBig !== undefined ? { ok: false, error: `Malformed ${opts.from} message: ${tooBig}` } : parseWith(schema, raw, `Malformed ${opts.from} message`);
    if (parsed.ok) return parsed.value;
    opts.log(type ? `${parsed.error} (a '${type}' message, rejected)` : `${parsed.error} (rejected)`);
    opts.reject?.({ inReplyTo: requestIdOf(raw), type, error: parsed.error });
    return undefined;
  };
}

/**
 * How large a message from a webview may be: a picture to save (savePng) up to 64 M characters of
 * base64 (a graph drawn at 4x is a few MB), anything else 1 M (a paste of 100 blocks is ~50 k).
 */
export function webviewMessageLimit(type: string | undefined): number {
  return type === 'savePng' ? 64_000_000 : 1_000_000;
}

/** Why `raw` is over `limit` characters as JSON (or cannot be measured), else undefined. */
function oversized(raw: unknown, limit: number): string | undefined {
  let size: number;
  try {
    size = JSON.stringify(raw)?.length ?? 0;
  } catch {
    return 'it cannot be read as JSON';
  }
  return size > limit ? `${size.toLocaleString('en-US')} characters, over the ${limit.toLocaleString('en-US')} such a message may have` : undefined;
}
