import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { layoutPositions } from '../../webview/editor/autoLayout';
import { blockViews, edgeViews, pngFileName, roleBadge, shownStage, stageChips, wiringOf } from '../../webview/editor/graphView';
import { canConnect } from '../../src/core/edits';
import { EMPTY_RUN_VIEW, reduceRunView } from '../../webview/editor/previews';
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

test('the stage bar lists declared stages with their plan and the role of every block', () => {
  const doc = sample('autoencoder-classifier');
  const chips = stageChips(doc, analyzeGraph(doc));
  assert.deepEqual(chips.map((c) => [c.index, c.name, c.kind]), [
    [0, 'autoencoder', 'fit'],
    [1, 'classifier', 'fit'],
  ]);
  assert.match(chips[0]!.detail, /^fits Output "reconstruction"\n100 epochs\nloss binaryCrossentropy\nadadelta \(learning rate 1\)\nbatch 256/);
  assert.match(chips[1]!.detail, /5 epochs[\s\S]*loss categoricalCrossentropy[\s\S]*freezes encoder, bottleneck/);
  assert.equal(chips[1]!.roles.get('encoder'), 'frozen');
  assert.equal(chips[1]!.roles.get('decoder'), 'unused');

  const stacked = sample('stacked-autoencoder');
  const [pretrain] = stageChips(stacked, analyzeGraph(stacked));
  assert.equal(pretrain!.kind, 'layerwise');
  assert.match(pretrain!.detail, /^layer-wise pretraining of "encoder"\n50 epochs per layer/);
});

test('no declared stages, no bar; a graph with errors keeps its chips, read from the raw stages', () => {
  const plain = sample('dense-autoencoder');
  assert.deepEqual(stageChips(plain, analyzeGraph(plain)), []);

  const doc = sample('autoencoder-classifier') as Record<string, unknown> & { nodes: { id: string; type: string; params?: Record<string, unknown> }[] };
  doc.nodes.push({ id: 'stray', type: 'Dense', params: { units: 4 } }); // "has no input": an error
  const analysis = analyzeGraph(doc);
  assert.ok(!analysis.ok);
  const chips = stageChips(doc, analysis);
  assert.deepEqual(chips.map((c) => c.name), ['autoencoder', 'classifier']);
  assert.match(chips[1]!.detail, /the graph has errors/);
  assert.equal(chips[1]!.roles.get('head'), 'trained');
  assert.equal(chips[1]!.roles.get('encoder'), 'frozen');
  assert.equal(chips[1]!.roles.get('stray'), 'unused');
});

test('the shown stage: the one picked, else the one training, else none', () => {
  assert.equal(shownStage(3, undefined, undefined), undefined, 'nothing picked, nothing training');
  assert.equal(shownStage(3, 0, undefined), 0);
  assert.equal(shownStage(3, undefined, 1), 1, 'follows the run');
  assert.equal(shownStage(3, 2, 1), 2, 'a pick during the run sticks');
  assert.equal(shownStage(3, null, 1), undefined, 'cleared by the person');
  assert.equal(shownStage(2, 2, undefined), undefined, 'a stage that was removed');
  assert.equal(shownStage(0, undefined, 0), undefined, 'no stages declared');
});

test('role badges: trained and frozen say why, unused says so, fixed blocks get none', () => {
  const stage = { index: 1, name: 'classifier' };
  assert.deepEqual(roleBadge('trained', stage, true), { label: 'trains', title: 'Its weights update in stage 2 "classifier".' });
  assert.match(roleBadge('frozen', stage, true)!.title, /the stage freezes it/);
  assert.match(roleBadge('frozen', stage, false)!.title, /trainable is off/);
  assert.equal(roleBadge('unused', stage, true)!.label, 'not in stage');
  assert.equal(roleBadge('fixed', stage, true), undefined);
  assert.equal(roleBadge(undefined, stage, true), undefined);
});

test('training messages carry the running stage; stopping forgets it', () => {
  let v = reduceRunView(EMPTY_RUN_VIEW, { type: 'training', running: true });
  assert.equal(v.trainingStage, undefined);
  v = reduceRunView(v, { type: 'training', running: true, stageIndex: 1 });
  assert.deepEqual([v.training, v.trainingStage], [true, 1]);
  assert.equal(reduceRunView(v, { type: 'training', running: true, stageIndex: 1 }), v, 'same stage, same object');
  assert.equal(reduceRunView(v, { type: 'training', running: true }).trainingStage, 1, 'a message without a stage keeps it');
  v = reduceRunView(v, { type: 'training', running: false });
  assert.deepEqual([v.training, v.trainingStage], [false, undefined]);
});

test('the exported picture is named after the graph file, else the graph', () => {
  assert.equal(pngFileName('samples/autoencoder-classifier.latent.json', 'Autoencoder as classifier'), 'autoencoder-classifier.png');
  assert.equal(pngFileName('C:\\models\\my net.latent.json', 'x'), 'my-net.png');
  assert.equal(pngFileName('Untitled-1', 'Dense autoencoder'), 'Untitled-1.png');
  assert.equal(pngFileName('', 'Dense autoencoder (v2)'), 'Dense-autoencoder-v2.png');
  assert.equal(pngFileName('', undefined), 'graph.png');
  assert.equal(pngFileName('../../.latent.json', 'ünïcode ✓'), 'n-code.png');
  for (const name of ['a.latent.json', 'x/.hidden.latent.json', 'weird name!!.json']) assert.match(pngFileName(name, 'g'), /^[\w.-]{1,100}\.png$/);
});

test('wiringOf: a block\'s wires in and out, and the blocks a keyboard wire may reach (canConnect)', () => {
  const doc = sample('dense-autoencoder');
  (doc.nodes as unknown[]).push({ id: 'extra', type: 'Dense', params: { units: 8 } });
  const enc = wiringOf(doc, 'encoder');
  assert.deepEqual(enc.inputs, ['input']);
  assert.deepEqual(enc.outputs, ['bottleneck']);
  assert.ok(enc.targets.includes('extra'), `an unwired block is offered: ${enc.targets.join(', ')}`);
  assert.ok(!enc.targets.includes('encoder') && !enc.targets.includes('input'), 'not itself, not the Input');
  for (const t of enc.targets) assert.ok(canConnect(doc, 'encoder', t).ok, t);
  // Nothing takes an Output's output.
  assert.deepEqual(wiringOf(doc, 'reconstruction').targets, []);
});
