import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { layoutPositions } from '../../webview/editor/autoLayout';
import { blockViews, edgeViews } from '../../webview/editor/graphView';
import { sample } from '../helpers/samples';

test('blocks show their output shape, parameter count, a gist and their problems', () => {
  const doc = sample('fashion-conv-autoencoder');
  const views = blockViews(doc, analyzeGraph(doc));
  const byId = Object.fromEntries(views.map((v) => [v.id, v]));
  assert.equal(byId.bottleneck!.outputShape, '4x4x4');
  assert.equal(byId.encoder!.params, 1612);
  assert.equal(byId.encoder!.gist, 'conv 16 → conv 8 → conv 4');
  assert.equal(byId.reconstruction!.hasOutput, false);
  assert.equal(byId.input!.hasInput, false);
  assert.equal(byId.decoder!.layers.length, 7);
  assert.deepEqual(byId.encoder!.position, { x: 0, y: 150 });

  (doc.nodes as { id: string; params: Record<string, unknown> }[]).find((n) => n.id === 'decoder')!.params.stages = [{ kind: 'conv', filters: 2 }];
  const broken = blockViews(doc, analyzeGraph(doc));
  const out = broken.find((v) => v.id === 'reconstruction')!;
  assert.match(out.errors[0]!, /outputs 4x4x2 but the loss compares it with the 28x28x1 image input/);
});

test('wires carry the shape of the tensor they move; wires into a broken block are marked', () => {
  const doc = sample('dense-autoencoder');
  const edges = edgeViews(doc, analyzeGraph(doc));
  assert.deepEqual(edges.map((e) => [e.id, e.shape, e.broken]), [
    ['input->encoder', '784', false],
    ['encoder->bottleneck', '32', false],
    ['bottleneck->decoder', '16', false],
    ['decoder->reconstruction', '784', false],
  ]);
  (doc.nodes as { id: string; params: Record<string, unknown> }[]).find((n) => n.id === 'bottleneck')!.params.latentSize = 0;
  assert.equal(edgeViews(doc, analyzeGraph(doc)).find((e) => e.to === 'bottleneck')!.broken, true);
});

test('auto layout puts each block below the one feeding it and branches side by side', () => {
  const doc = sample('autoencoder-classifier');
  const ids = (doc.nodes as { id: string }[]).map((n) => n.id);
  const pos = layoutPositions(ids.map((id) => ({ id, width: 200, height: 100 })), doc.edges as { from: string; to: string }[]);
  for (const e of doc.edges as { from: string; to: string }[]) assert.ok(pos[e.to]!.y > pos[e.from]!.y, `${e.from} above ${e.to}`);
  assert.notEqual(pos.decoder!.x, pos.head!.x);
});

test('the editor stylesheet takes every colour from the VS Code theme', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const css = fs.readFileSync(path.join(__dirname, '..', '..', 'webview', 'editor', 'editor.css'), 'utf8');
  const literal = /#[0-9a-f]{3,8}\b|rgba?\(|hsla?\(|\b(white|black|red|green|blue|gray|grey)\b/gi;
  // Values only: drop comments, var(--vscode-…) references and property names such as white-space.
  const values = css
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/var\([^)]*\)/g, '')
    .replace(/[\w-]+\s*:/g, ':');
  assert.deepEqual(values.match(literal) ?? [], []);
  assert.ok((css.match(/var\(--vscode-/g) ?? []).length > 50);
});
