import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { parseJsonText, serializeGraph } from '../../src/core/canonical';
import { FORMAT_VERSION } from '../../src/core/format';
import { locatePath } from '../../src/core/jsonPosition';
import { migrate } from '../../src/core/migrate';
import { SAMPLE_NAMES, sample, sampleText } from '../helpers/samples';

/** Rebuild an object with its keys in reverse order, recursively (same data, different text). */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  return v;
}

test('every sample is stored canonically and round-trips byte for byte', () => {
  assert.equal(SAMPLE_NAMES.length, 12);
  for (const name of SAMPLE_NAMES) {
    const text = sampleText(name);
    assert.equal(serializeGraph(JSON.parse(text)), text, `${name} is not canonical`);
  }
});

test('canonical text does not depend on key order', () => {
  for (const name of SAMPLE_NAMES) {
    assert.equal(serializeGraph(reverseKeys(sample(name)) as Record<string, unknown>), sampleText(name));
  }
});

test('changing one parameter changes exactly one line', () => {
  const doc = sample('dense-autoencoder');
  const before = serializeGraph(doc).split('\n');
  (doc.nodes as { id: string; params: { latentSize: number } }[]).find((n) => n.id === 'bottleneck')!.params.latentSize = 8;
  const after = serializeGraph(doc).split('\n');
  assert.equal(before.length, after.length);
  const changed = before.map((l, i) => (l === after[i] ? -1 : i)).filter((i) => i >= 0);
  assert.equal(changed.length, 1);
  assert.match(after[changed[0]!]!, /"latentSize": 8/);
  // Moving a block on the canvas is one line too, in the layout section.
  (doc.layout as Record<string, { x: number }>).decoder!.x = 1234.4;
  const moved = serializeGraph(doc).split('\n');
  assert.deepEqual(moved.filter((l, i) => l !== after[i]), ['    "decoder": {"x": 1234, "y": 450},']);
});

test('serializing an invalid document keeps everything it holds', () => {
  const odd = { name: 'x', formatVersion: 1, nodes: [{ type: 'Mystery', id: 'm', params: { z: 1, a: [1, { b: 2 }] } }], custom: { keep: true } };
  const text = serializeGraph(odd);
  assert.deepEqual(JSON.parse(text), odd);
});

test('migration: unversioned drafts with inline positions move them to the layout section', () => {
  const draft = {
    name: 'draft',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [784] }, position: { x: 10, y: 20 } },
      { id: 'd', type: 'Dense', params: { units: 784, activation: 'sigmoid' }, position: { x: 200, y: 20 } },
      { id: 'out', type: 'Output', params: { target: 'input' } },
    ],
    edges: [
      { from: 'input', to: 'd' },
      { from: 'd', to: 'out' },
    ],
  };
  const m = migrate(draft);
  assert.ok(m.ok);
  assert.equal(m.from, 0);
  assert.equal(m.document.formatVersion, FORMAT_VERSION);
  assert.deepEqual(m.document.layout, { input: { x: 10, y: 20 }, d: { x: 200, y: 20 } });
  const a = analyzeGraph(draft);
  assert.equal(a.ok, true, JSON.stringify(a.problems));
  assert.equal(a.sourceFormatVersion, 0);
  assert.equal(a.document!.nodes.some((n) => 'position' in n), false);
});

test('migration: a file from a newer version is refused with a sentence', () => {
  const m = migrate({ formatVersion: FORMAT_VERSION + 1, nodes: [] });
  assert.equal(m.ok, false);
  assert.match(!m.ok ? m.problem.message : '', /written by a newer Latent Studio; this version reads formats up to 1/);
  assert.equal(migrate({ formatVersion: -2 }).ok, false);
  assert.equal(migrate([1, 2]).ok, false);
});

test('JSON syntax errors carry line and column', () => {
  const r = parseJsonText('{\n  "a": 1,\n  "b": ,\n}');
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.error.line, 3);
    assert.equal(r.error.column, 8);
    assert.ok(r.error.message.length > 0);
  }
});

test('problem paths map to the JSON text they concern', () => {
  const text = sampleText('dense-autoencoder');
  const units = locatePath(text, ['nodes', 2, 'params', 'latentSize']);
  assert.equal(text.slice(units.offset, units.offset + units.length), '"latentSize": 16');
  const node = locatePath(text, ['nodes', 1]);
  assert.match(text.slice(node.offset, node.offset + node.length), /^\{"id": "encoder"/);
  // A missing field points at its nearest existing parent.
  const missing = locatePath(text, ['nodes', 2, 'params', 'nothing']);
  assert.match(text.slice(missing.offset, missing.offset + missing.length), /^"params": \{"latentSize"/);
});

test('graph text: a byte-order mark is read (columns kept), a comment or a trailing comma is named in words', () => {
  const bom = parseJsonText('\ufeff{"formatVersion": 1}');
  assert.deepEqual(bom, { ok: true, value: { formatVersion: 1 } });
  const commented = parseJsonText('{\n  // the encoder\n  "a": 1}');
  assert.ok(!commented.ok);
  assert.deepEqual([commented.error.line, commented.error.column, commented.error.message], [2, 3, 'a comment: JSON has no comments, remove it']);
  const trailing = parseJsonText('\ufeff{"a": 1,}');
  assert.ok(!trailing.ok);
  assert.deepEqual([trailing.error.line, trailing.error.column], [1, 10], 'the column counts the mark');
  assert.match(trailing.error.message, /^property name expected \(a comma before a closing brace\?\)$/);
});
