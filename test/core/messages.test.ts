/** The one message helper every boundary uses (src/core/messages.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { type Rejection, RequestIds, createReceiver, formatIssuePath, parseWith, request, webviewMessageLimit } from '../../src/core/messages';
import { ToHostSchema } from '../../src/core/editorProtocol';
import { FromPanelSchema } from '../../src/core/panelProtocol';

test('issue paths read as people write them', () => {
  assert.equal(formatIssuePath([]), '(root)');
  assert.equal(formatIssuePath(['request', 'stages']), 'request.stages');
  assert.equal(formatIssuePath(['stages', 1, 'epochs']), 'stages[1].epochs');
  assert.equal(formatIssuePath([0, 'x']), '[0].x');
});

test('parseWith: the value, or the sentence with the path of the first error', () => {
  const schema = z.object({ a: z.object({ b: z.number() }) }).strict();
  assert.deepEqual(parseWith(schema, { a: { b: 1 } }, 'thing'), { ok: true, value: { a: { b: 1 } } });
  assert.deepEqual(parseWith(schema, { a: { b: 'x' } }, 'thing'), { ok: false, error: 'thing: a.b: Invalid input: expected number, received string' });
});

test('a receiver logs every message it rejects and answers requests by their id', () => {
  const lines: string[] = [];
  const rejections: Rejection[] = [];
  const receive = createReceiver(z.discriminatedUnion('type', [request({ type: z.literal('go'), n: z.number() })]), {
    from: 'test',
    log: (l) => lines.push(l),
    reject: (r) => rejections.push(r),
  });
  assert.deepEqual(receive({ type: 'go', n: 1, id: 4 }), { type: 'go', n: 1, id: 4 });
  assert.equal(receive({ type: 'go', n: 'one', id: 5 }), undefined);
  assert.equal(receive('junk'), undefined);
  assert.deepEqual(lines, [
    "Malformed test message: n: Invalid input: expected number, received string (a 'go' message, rejected)",
    'Malformed test message: (root): Invalid input: expected object, received string (rejected)',
  ]);
  assert.deepEqual(rejections, [
    { inReplyTo: 5, type: 'go', error: 'Malformed test message: n: Invalid input: expected number, received string' },
    { inReplyTo: undefined, type: undefined, error: 'Malformed test message: (root): Invalid input: expected object, received string' },
  ]);
});

test('a receiver with a size limit rejects an oversized message before validating it, naming its size', () => {
  const lines: string[] = [];
  const rejections: Rejection[] = [];
  const receive = createReceiver(z.discriminatedUnion('type', [request({ type: z.literal('note'), text: z.string() }), request({ type: z.literal('savePng'), pngBase64: z.string() })]), {
    from: 'editor',
    log: (l) => lines.push(l),
    reject: (r) => rejections.push(r),
    maxChars: webviewMessageLimit,
  });
  const big = 'x'.repeat(1_000_001);
  assert.equal(receive({ type: 'note', text: big, id: 3 }), undefined);
  assert.match(lines[0]!, /^Malformed editor message: 1,000,0\d\d characters, over the 1,000,000 such a message may have \(a 'note' message, rejected\)$/);
  assert.equal(rejections[0]!.inReplyTo, 3);
  // A picture may be larger; a message just under the limit passes.
  assert.deepEqual(receive({ type: 'savePng', pngBase64: big }), { type: 'savePng', pngBase64: big });
  assert.deepEqual(receive({ type: 'note', text: 'x'.repeat(999_900) })?.type, 'note');
  assert.equal(webviewMessageLimit('savePng'), 64_000_000);
});

test('both webviews number their messages with the same ids and may report a message they rejected', () => {
  const ids = new RequestIds();
  assert.deepEqual([ids.next(), ids.next(), ids.next()], [1, 2, 3]);
  assert.ok(ToHostSchema.safeParse({ type: 'ready', id: 1 }).success);
  assert.ok(FromPanelSchema.safeParse({ type: 'stop', id: 2 }).success);
  assert.equal(FromPanelSchema.safeParse({ type: 'stop', id: 0 }).success, false, 'ids start at 1');
  for (const schema of [ToHostSchema, FromPanelSchema]) assert.ok(schema.safeParse({ type: 'rejected', error: 'Malformed host message: type: …' }).success);
});
