import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseToEditor, parseToHost } from '../../src/core/editorProtocol';
import { minimalReplacement } from '../../src/core/textDiff';

test('webview messages are validated: every edit kind passes, junk is refused with the field named', () => {
  const good = [
    { type: 'ready' },
    { type: 'edit', edit: { kind: 'addNode', type: 'Dense', position: { x: 1, y: 2 } } },
    { type: 'edit', edit: { kind: 'setParam', id: 'd', path: ['stages', 0, 'units'], value: 32 } },
    { type: 'edits', edits: [{ kind: 'removeNodes', ids: ['a'] }, { kind: 'disconnect', from: 'a', to: 'b' }] },
    { type: 'edit', edit: { kind: 'move', positions: { a: { x: 0, y: 10 } } } },
    { type: 'openAsText' },
  ];
  for (const m of good) assert.ok(parseToHost(m).ok, JSON.stringify(m));
  const bad = parseToHost({ type: 'edit', edit: { kind: 'move', positions: { a: { x: 'left', y: 0 } } } });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error : '', /edit\.positions\.a\.x/);
  assert.equal(parseToHost({ type: 'edit', edit: { kind: 'format-disk' } }).ok, false);
  assert.equal(parseToHost({ type: 'edits', edits: [] }).ok, false);
  assert.ok(parseToEditor({ type: 'document', text: '{}', version: 3, fileName: 'a.latent.json' }).ok);
  assert.equal(parseToEditor({ type: 'document', text: 3 }).ok, false);
});

test('minimalReplacement touches only the changed span', () => {
  assert.equal(minimalReplacement('same', 'same'), null);
  const r = minimalReplacement('{"units": 128, "a": 1}', '{"units": 64, "a": 1}')!;
  assert.deepEqual(r, { start: 10, end: 13, text: '64' });
  const apply = (old: string, n: string): string => {
    const x = minimalReplacement(old, n)!;
    return old.slice(0, x.start) + x.text + old.slice(x.end);
  };
  for (const [a, b] of [['abc', 'abXc'], ['aaaa', 'aa'], ['', 'new'], ['gone', ''], ['xyzxyz', 'xyz']] as const) assert.equal(apply(a, b), b);
});
