import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { type StageRole, resolveStages, stageRoles } from '../../src/core/stages';
import { sample } from '../helpers/samples';

type Doc = Record<string, unknown> & { nodes: { id: string; type: string; trainable?: boolean; params?: Record<string, unknown> }[]; edges: { from: string; to: string }[]; training: Record<string, unknown> };

function rolesOf(doc: Record<string, unknown>): Record<string, StageRole>[] {
  const analysis = analyzeGraph(doc);
  assert.ok(analysis.ok, analysis.problems.map((p) => p.message).join('\n'));
  return resolveStages(analysis).map((s) => Object.fromEntries(stageRoles(analysis, s)));
}

test('autoencoder → classifier: stage 1 trains the autoencoder, stage 2 the head on the frozen encoder', () => {
  const [autoencoder, classifier] = rolesOf(sample('autoencoder-classifier'));
  assert.deepEqual(autoencoder, {
    input: 'fixed',
    encoder: 'trained',
    bottleneck: 'trained',
    decoder: 'trained',
    reconstruction: 'fixed',
    head: 'unused',
    classes: 'unused',
  });
  assert.deepEqual(classifier, {
    input: 'fixed',
    encoder: 'frozen',
    bottleneck: 'frozen',
    decoder: 'unused',
    reconstruction: 'unused',
    head: 'trained',
    classes: 'fixed',
  });
});

test('a fine-tune stage after the classifier trains the whole classifier path', () => {
  const doc = sample('autoencoder-classifier') as Doc;
  (doc.training.stages as unknown[]).push({ name: 'fine-tune', output: 'classes', loss: 'categoricalCrossentropy', epochs: 2 });
  const roles = rolesOf(doc);
  assert.equal(roles.length, 3);
  assert.deepEqual(roles[2], { input: 'fixed', encoder: 'trained', bottleneck: 'trained', decoder: 'unused', reconstruction: 'unused', head: 'trained', classes: 'fixed' });
});

test('stacked autoencoder: layerwise pretraining trains the encoder and the softmax head, fine-tuning everything', () => {
  const [pretrain, fineTune] = rolesOf(sample('stacked-autoencoder'));
  // src/train/layerwise.ts: each Encoder layer as its own autoencoder, then the blocks from the Encoder to the labels Output.
  assert.deepEqual(pretrain, { input: 'fixed', encoder: 'trained', head: 'trained', classes: 'fixed' });
  assert.deepEqual(fineTune, { input: 'fixed', encoder: 'trained', head: 'trained', classes: 'fixed' });
});

test('layerwise: blocks off the Encoder → labels chain are unused; weighted blocks before the Encoder only feed it', () => {
  const doc = sample('stacked-autoencoder') as Doc;
  doc.nodes.push({ id: 'pre', type: 'Dense', params: { units: 256 } }, { id: 'decoder', type: 'Decoder', params: { stages: [{ kind: 'dense', units: 784, activation: 'sigmoid' }] } }, { id: 'reconstruction', type: 'Output', params: { target: 'input' } });
  doc.edges = [
    { from: 'input', to: 'pre' },
    { from: 'pre', to: 'encoder' },
    { from: 'encoder', to: 'head' },
    { from: 'head', to: 'classes' },
    { from: 'encoder', to: 'decoder' },
    { from: 'decoder', to: 'reconstruction' },
  ];
  const [pretrain] = rolesOf(doc);
  assert.deepEqual(pretrain, { input: 'fixed', pre: 'frozen', encoder: 'trained', head: 'trained', classes: 'fixed', decoder: 'unused', reconstruction: 'unused' });
});

test('layerwise without a labels Output trains only the Encoder', () => {
  const doc = sample('dense-autoencoder') as Doc;
  doc.training.stages = [{ name: 'pretrain', kind: 'layerwise', encoder: 'encoder' }, { name: 'fit', output: 'reconstruction' }];
  const [pretrain, fit] = rolesOf(doc);
  assert.deepEqual(pretrain, { input: 'fixed', encoder: 'trained', bottleneck: 'unused', decoder: 'unused', reconstruction: 'unused' });
  assert.deepEqual(fit, { input: 'fixed', encoder: 'trained', bottleneck: 'trained', decoder: 'trained', reconstruction: 'fixed' });
});

test('the implicit single stage: trainable:false blocks are frozen, parameter-free blocks fixed, a second output unused', () => {
  const doc = sample('denoising-autoencoder') as Doc;
  const [only] = rolesOf(doc);
  assert.equal(only!.noise, 'fixed', 'noise has no weights');
  assert.equal(only!.encoder, 'trained');
  doc.nodes.find((n) => n.id === 'encoder')!.trainable = false;
  assert.equal(rolesOf(doc)[0]!.encoder, 'frozen');

  // Without declared stages only the first Output trains: a classifier branch beside it is unused.
  const two = sample('autoencoder-classifier') as Doc;
  delete two.training.stages;
  two.training.metrics = [];
  const [implicit] = rolesOf(two);
  assert.equal(implicit!.decoder, 'trained');
  assert.equal(implicit!.head, 'unused');
});

test('roles are defined for every block, also in a graph with errors', () => {
  const doc = sample('autoencoder-classifier') as Doc;
  doc.nodes.push({ id: 'stray', type: 'Dense', params: { units: 3 } });
  const analysis = analyzeGraph(doc);
  assert.ok(!analysis.ok);
  const roles = stageRoles(analysis, { kind: 'fit', outputId: 'classes', freeze: ['encoder'], encoder: undefined });
  assert.equal(roles.size, analysis.nodes.size);
  assert.equal(roles.get('stray'), 'unused');
  assert.equal(roles.get('encoder'), 'frozen');
  assert.equal(roles.get('bottleneck'), 'trained');
  // An unknown Output or Encoder: nothing runs.
  assert.ok([...stageRoles(analysis, { kind: 'fit', outputId: 'nope', freeze: [], encoder: undefined }).values()].every((r) => r === 'unused'));
  assert.ok([...stageRoles(analysis, { kind: 'layerwise', outputId: 'classes', freeze: [], encoder: 'nope' }).values()].every((r) => r === 'unused'));
});
