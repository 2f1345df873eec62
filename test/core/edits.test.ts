import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { serializeGraph } from '../../src/core/canonical';
import { type EditResult, type GraphEdit, applyEdit, canConnect, newNodeId } from '../../src/core/edits';
import { NODE_ID_PATTERN } from '../../src/core/format';
import { chainGraph, sample } from '../helpers/samples';

type Doc = Record<string, unknown>;

function ok(result: EditResult): { document: Doc; created?: string[]; message?: string } {
  if (!result.ok) assert.fail(`edit refused: ${result.error}`);
  return result;
}

function refused(result: EditResult, pattern: RegExp | string): string {
  if (result.ok) assert.fail(`expected a refusal matching ${String(pattern)}`);
  if (typeof pattern === 'string') assert.equal(result.error, pattern);
  else assert.match(result.error, pattern);
  // Refusals are sentences a person can read.
  assert.match(result.error, /^[A-Z"]/);
  assert.match(result.error, /[.?]$/);
  return result.error;
}

// Narrow the loosely typed document for reading in assertions (a test failure if the shape is off).
function nodes(doc: Doc): { id: string; type: string; label?: string; trainable?: boolean; params?: Record<string, unknown> }[] {
  assert.ok(Array.isArray(doc.nodes));
  return doc.nodes as { id: string; type: string; params?: Record<string, unknown> }[];
}
function edges(doc: Doc): string[] {
  assert.ok(Array.isArray(doc.edges));
  return (doc.edges as { from: string; to: string }[]).map((e) => `${e.from}->${e.to}`);
}
function layout(doc: Doc): Record<string, { x: number; y: number }> {
  return doc.layout as Record<string, { x: number; y: number }>;
}
function node(doc: Doc, id: string) {
  const n = nodes(doc).find((x) => x.id === id);
  assert.ok(n, `no node ${id}`);
  return n;
}

/** Lines of the canonical text that differ (as a multiset), for "one edit, one line" checks. */
function changedLines(before: Doc, after: Doc): { removed: string[]; added: string[] } {
  const a = serializeGraph(before).split('\n');
  const b = serializeGraph(after).split('\n');
  const count = (lines: string[]) => lines.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const ca = count(a);
  const cb = count(b);
  const removed = a.filter((l) => {
    const n = cb.get(l) ?? 0;
    if (n > 0) cb.set(l, n - 1);
    return n === 0;
  });
  const added = b.filter((l) => {
    const n = ca.get(l) ?? 0;
    if (n > 0) ca.set(l, n - 1);
    return n === 0;
  });
  return { removed, added };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------

test('applyEdit never mutates its input, for every edit kind', () => {
  const edits: GraphEdit[] = [
    { kind: 'addNode', type: 'Dense', position: { x: 1.4, y: 2.6 }, connectFrom: 'decoder' },
    { kind: 'removeNodes', ids: ['encoder', 'classes'] },
    { kind: 'connect', from: 'head', to: 'reconstruction' }, // refused (fan-in) but must not touch the input either
    { kind: 'disconnect', from: 'bottleneck', to: 'head' },
    { kind: 'setParams', id: 'head', params: { classes: 5 } },
    { kind: 'setParam', id: 'encoder', path: ['stages', 0, 'units'], value: 99 },
    { kind: 'setParam', id: 'encoder', path: ['stages', 1], value: undefined },
    { kind: 'setNode', id: 'head', label: 'Head', trainable: false },
    { kind: 'renameNode', id: 'encoder', newId: 'enc' },
    { kind: 'move', positions: { input: { x: 5, y: 5 } } },
    { kind: 'paste', nodes: [{ id: 'head', type: 'ClassifierHead', params: { classes: 3 } }], edges: [], positions: { head: { x: 0, y: 0 } }, offset: { x: 10, y: 10 } },
    { kind: 'setTraining', path: ['stages', 1, 'freeze', 0], value: undefined },
    { kind: 'mirrorDecoder', encoderId: 'encoder' },
  ];
  for (const edit of edits) {
    const input = deepFreeze(sample('autoencoder-classifier'));
    const snapshot = JSON.stringify(input);
    const result = applyEdit(input, edit); // a frozen input makes any write throw
    assert.equal(JSON.stringify(input), snapshot, edit.kind);
    if (result.ok) assert.notEqual(result.document, input);
  }
});

test('addNode appends a block with the catalog example params and a rounded layout position', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'addNode', type: 'Dense', position: { x: 100.6, y: -20.4 } }));
  assert.deepEqual(r.created, ['dense']);
  const all = nodes(r.document);
  assert.equal(all[all.length - 1]!.id, 'dense');
  assert.deepEqual(all.slice(0, -1), nodes(doc), 'existing nodes keep their order');
  assert.deepEqual(node(r.document, 'dense'), { id: 'dense', type: 'Dense', params: { units: 64, activation: 'relu' } });
  assert.deepEqual(layout(r.document).dense, { x: 101, y: -20 });
  const again = ok(applyEdit(r.document, { kind: 'addNode', type: 'Dense', position: { x: 0, y: 0 } }));
  assert.deepEqual(again.created, ['dense2']);
});

test('addNode takes given params and id, and refuses unknown types, bad ids and taken ids', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'addNode', type: 'Dropout', id: 'drop', params: { rate: 0.3 }, position: { x: 0, y: 0 } }));
  assert.deepEqual(node(r.document, 'drop').params, { rate: 0.3 });
  refused(applyEdit(doc, { kind: 'addNode', type: 'Dence', position: { x: 0, y: 0 } }), 'There is no block type "Dence": did you mean "Dense"?');
  refused(applyEdit(doc, { kind: 'addNode', type: 'Dense', id: '1st', position: { x: 0, y: 0 } }), /"1st" cannot be a block id: ids start with a letter/);
  refused(applyEdit(doc, { kind: 'addNode', type: 'Dense', id: 'encoder', position: { x: 0, y: 0 } }), /already a block called "encoder"/);
  refused(applyEdit(doc, { kind: 'addNode', type: 'Dense', position: { x: Number.NaN, y: 0 } }), /finite "x" and "y"/);
});

test('addNode with connectFrom connects when allowed, and otherwise adds the block and says why it is unconnected', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'addNode', type: 'ClassifierHead', position: { x: 0, y: 300 }, connectFrom: 'bottleneck' }));
  assert.deepEqual(r.created, ['classifierHead']);
  assert.equal(edges(r.document).at(-1), 'bottleneck->classifierHead');
  assert.equal(r.message, undefined);
  const fromOutput = ok(applyEdit(doc, { kind: 'addNode', type: 'Dense', position: { x: 0, y: 0 }, connectFrom: 'reconstruction' }));
  assert.deepEqual(edges(fromOutput.document), edges(doc));
  assert.match(fromOutput.message ?? '', /^Added Dense "dense" without connecting it: Output is the end of the model/);
});

test('newNodeId: lowercase-first type names, numbered to stay unique, valid ids', () => {
  const doc = sample('conv-autoencoder');
  assert.equal(newNodeId(doc, 'Dense'), 'dense');
  assert.equal(newNodeId(doc, 'Conv2D'), 'conv2D');
  assert.equal(newNodeId(doc, 'MaxPooling2D'), 'maxPooling2D');
  assert.equal(newNodeId(doc, 'Encoder'), 'encoder2');
  assert.equal(newNodeId(doc, 'Decoder'), 'decoder2');
  assert.equal(newNodeId({ nodes: [] }, 'My block!'), 'myblock');
  assert.equal(newNodeId({ nodes: [] }, '3D thing'), 'node3Dthing');
  // A stale training reference is not reused: a new block must not silently become the trained output.
  assert.equal(newNodeId({ nodes: [], training: { output: 'output' } }, 'Output'), 'output2');
  for (const type of ['Dense', 'Conv2DTranspose', 'BatchNormalization', 'x'.repeat(80), '!!!', '']) {
    assert.match(newNodeId(doc, type), NODE_ID_PATTERN, type);
  }
  let d: Doc = { nodes: [] };
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = ok(applyEdit(d, { kind: 'addNode', type: 'Dense', position: { x: 0, y: 0 } }));
    seen.push(...(r.created ?? []));
    d = r.document;
  }
  assert.deepEqual(seen, ['dense', 'dense2', 'dense3', 'dense4']);
});

test('removeNodes drops the blocks, their edges and layout entries', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'removeNodes', ids: ['bottleneck'] }));
  assert.deepEqual(
    nodes(r.document).map((n) => n.id),
    ['input', 'encoder', 'decoder', 'reconstruction'],
  );
  assert.deepEqual(edges(r.document), ['input->encoder', 'decoder->reconstruction']);
  assert.equal('bottleneck' in layout(r.document), false);
  assert.equal(r.message, 'Removed Bottleneck "bottleneck" and 2 edges.');
  refused(applyEdit(doc, { kind: 'removeNodes', ids: ['bottleneck', 'nope'] }), 'There is no block "nope" in this graph.');
  refused(applyEdit(doc, { kind: 'removeNodes', ids: [] }), /Nothing to remove/);
});

test('removeNodes removes training references to the removed blocks and says so', () => {
  const doc = sample('autoencoder-classifier');
  const r = ok(applyEdit(doc, { kind: 'removeNodes', ids: ['encoder', 'classes'] }));
  const training = r.document.training as { stages: Record<string, unknown>[] };
  assert.deepEqual(training.stages[1]!.freeze, ['bottleneck']);
  assert.equal('output' in training.stages[1]!, false);
  assert.equal(training.stages[0]!.output, 'reconstruction');
  assert.match(r.message ?? '', /^Removed 2 blocks and 3 edges\. Training no longer refers to them: /);
  assert.match(r.message ?? '', /stage "classifier"'s output "classes"/);
  assert.match(r.message ?? '', /stage "classifier"'s freeze entry "encoder"/);

  // The last freeze entry takes the key with it; a top-level output and a layer-wise encoder go too.
  const both = ok(applyEdit(doc, { kind: 'removeNodes', ids: ['encoder', 'bottleneck'] }));
  assert.equal('freeze' in (both.document.training as { stages: Record<string, unknown>[] }).stages[1]!, false);
  const stacked = ok(applyEdit(sample('stacked-autoencoder'), { kind: 'removeNodes', ids: ['encoder'] }));
  assert.equal('encoder' in (stacked.document.training as { stages: Record<string, unknown>[] }).stages[0]!, false);
  const top = ok(applyEdit({ ...sample('dense-autoencoder'), training: { output: 'reconstruction' } }, { kind: 'removeNodes', ids: ['reconstruction'] }));
  assert.deepEqual(top.document.training, {});
  assert.match(top.message ?? '', /training's output "reconstruction"/);
});

test('canConnect refuses with sentences: unknown, self, into Input, out of Output, duplicate, fan-in, cycle', () => {
  const doc = sample('dense-autoencoder');
  const reason = (from: string, to: string): string => {
    const r = canConnect(doc, from, to);
    if (r.ok) assert.fail(`${from} -> ${to} was allowed`);
    return r.reason;
  };
  assert.equal(reason('ghost', 'decoder'), 'There is no block "ghost" in this graph.');
  assert.equal(reason('encoder', 'ghost'), 'There is no block "ghost" in this graph.');
  assert.equal(reason('encoder', 'encoder'), 'Encoder "encoder" cannot take its own output as its input.');
  assert.match(reason('decoder', 'input'), /^Input blocks take no input/);
  assert.match(reason('reconstruction', 'decoder'), /^Output is the end of the model/);
  assert.equal(reason('input', 'encoder'), '"input" is already connected to "encoder".');
  assert.equal(reason('input', 'decoder'), 'Decoder "decoder" already takes its input from "bottleneck": remove that edge first.');
  // A free block downstream of the encoder, wired back into the chain's head, would loop.
  const open = ok(applyEdit(doc, { kind: 'disconnect', from: 'input', to: 'encoder' })).document;
  const r = canConnect(open, 'decoder', 'encoder');
  assert.equal(r.ok, false);
  assert.equal(
    !r.ok && r.reason,
    'Connecting "decoder" to "encoder" would make a cycle (encoder → bottleneck → decoder → encoder): data must flow one way, from Input to Output.',
  );
  assert.deepEqual(canConnect(open, 'input', 'encoder'), { ok: true });
});

test('connect adds an edge at the end and refuses what canConnect refuses', () => {
  const doc = ok(applyEdit(sample('dense-autoencoder'), { kind: 'addNode', type: 'ClassifierHead', position: { x: 0, y: 0 } })).document;
  const r = ok(applyEdit(doc, { kind: 'connect', from: 'bottleneck', to: 'classifierHead' }));
  assert.deepEqual(edges(r.document), [...edges(doc), 'bottleneck->classifierHead']);
  refused(applyEdit(r.document, { kind: 'connect', from: 'encoder', to: 'classifierHead' }), /already takes its input from "bottleneck"/);
  refused(applyEdit(doc, { kind: 'connect', from: 'decoder', to: 'input' }), /^Input blocks take no input/);
});

test('disconnect removes the edge, refuses a missing one, and can clear dangling edges', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'disconnect', from: 'encoder', to: 'bottleneck' }));
  assert.deepEqual(edges(r.document), ['input->encoder', 'bottleneck->decoder', 'decoder->reconstruction']);
  refused(applyEdit(doc, { kind: 'disconnect', from: 'input', to: 'decoder' }), 'There is no edge from "input" to "decoder".');
  const dangling = { ...doc, edges: [...(doc.edges as unknown[]), { from: 'gone', to: 'decoder' }] };
  assert.deepEqual(edges(ok(applyEdit(dangling, { kind: 'disconnect', from: 'gone', to: 'decoder' })).document), edges(doc));
});

test('setParams replaces the whole params object (copied, not shared)', () => {
  const doc = sample('dense-autoencoder');
  const params = { latentSize: 8 };
  const r = ok(applyEdit(doc, { kind: 'setParams', id: 'bottleneck', params }));
  assert.deepEqual(node(r.document, 'bottleneck').params, { latentSize: 8 });
  params.latentSize = 9;
  assert.deepEqual(node(r.document, 'bottleneck').params, { latentSize: 8 });
  refused(applyEdit(doc, { kind: 'setParams', id: 'nope', params: {} }), 'There is no block "nope" in this graph.');
});

test('setParam sets nested values, deletes keys, splices list items, and refuses impossible paths', () => {
  const doc = sample('dense-autoencoder');
  const stages = (d: Doc) => (node(d, 'encoder').params as { stages: Record<string, unknown>[] }).stages;
  const set = ok(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 1, 'units'], value: 48 })).document;
  assert.equal(stages(set)[1]!.units, 48);
  const del = ok(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 1, 'activation'], value: undefined })).document;
  assert.deepEqual(stages(del)[1], { kind: 'dense', units: 64 });
  const spliced = ok(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 0], value: undefined })).document;
  assert.deepEqual(stages(spliced).map((s) => s.units), [64, 32]);
  const appended = ok(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 3], value: { kind: 'dense', units: 16 } })).document;
  assert.deepEqual(stages(appended).map((s) => s.units), [128, 64, 32, 16]);
  const created = ok(applyEdit(doc, { kind: 'setParam', id: 'reconstruction', path: ['extra', 'deep', 0], value: 1 })).document;
  assert.deepEqual(node(created, 'reconstruction').params, { target: 'input', extra: { deep: [1] } });
  // Deleting what is not there changes nothing.
  const noop = ok(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['missing', 'x'], value: undefined })).document;
  assert.equal(serializeGraph(noop), serializeGraph(doc));

  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 5], value: {} }), /^In Encoder "encoder"'s parameters, "stages" has 3 item\(s\): item 5 would leave a gap\.$/);
  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 'first'], value: 1 }), /"stages" is a list: address its items by position/);
  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['stages', 0, 'units', 'x'], value: 1 }), /^In Encoder "encoder"'s parameters, "stages\[0\]\.units" is the number 128, so it has no "x"\.$/);
  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: [], value: 1 }), /Say which field/);
  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['__proto__', 'polluted'], value: 1 }), /"__proto__" cannot be used as a name/);
  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['x'], value: () => 1 }), /must be plain JSON data/);
  refused(applyEdit(doc, { kind: 'setParam', id: 'encoder', path: ['x'], value: Number.POSITIVE_INFINITY }), /finite number/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('setNode sets and (with null) removes label and trainable', () => {
  const doc = sample('dense-autoencoder');
  const set = ok(applyEdit(doc, { kind: 'setNode', id: 'encoder', label: 'Encoder 784→32', trainable: false })).document;
  assert.deepEqual(node(set, 'encoder'), { ...node(doc, 'encoder'), label: 'Encoder 784→32', trainable: false });
  const cleared = ok(applyEdit(set, { kind: 'setNode', id: 'encoder', label: null, trainable: null })).document;
  assert.deepEqual(node(cleared, 'encoder'), node(doc, 'encoder'));
  const onlyLabel = ok(applyEdit(set, { kind: 'setNode', id: 'encoder', label: null })).document;
  assert.equal(node(onlyLabel, 'encoder').trainable, false);
  refused(applyEdit(doc, { kind: 'setNode', id: 'encoder' }), /Nothing to change/);
  refused(applyEdit(doc, { kind: 'setNode', id: 'x', label: 'a' }), 'There is no block "x" in this graph.');
});

test('renameNode updates the node, edges, layout, training.output and stage output/freeze/encoder', () => {
  const doc = { ...sample('autoencoder-classifier'), training: { ...(sample('autoencoder-classifier').training as Doc), output: 'classes' } };
  const r = ok(applyEdit(doc, { kind: 'renameNode', id: 'classes', newId: 'labels' })).document;
  assert.deepEqual(nodes(r).map((n) => n.id), ['input', 'encoder', 'bottleneck', 'decoder', 'reconstruction', 'head', 'labels']);
  assert.equal(edges(r).at(-1), 'head->labels');
  assert.deepEqual(Object.keys(layout(r)), ['input', 'encoder', 'bottleneck', 'decoder', 'reconstruction', 'head', 'labels']);
  const t = r.training as { output: string; stages: Record<string, unknown>[] };
  assert.equal(t.output, 'labels');
  assert.equal(t.stages[1]!.output, 'labels');

  const enc = ok(applyEdit(doc, { kind: 'renameNode', id: 'encoder', newId: 'enc' })).document;
  assert.deepEqual((enc.training as { stages: Record<string, unknown>[] }).stages[1]!.freeze, ['enc', 'bottleneck']);
  assert.deepEqual(edges(enc).slice(0, 2), ['input->enc', 'enc->bottleneck']);
  assert.deepEqual(layout(enc).enc, layout(doc).encoder, 'the renamed block keeps its place');
  assert.equal(analyzeGraph(enc).ok, true);
  // Nothing still refers to the old id anywhere in the text.
  assert.doesNotMatch(serializeGraph(enc), /"encoder"/);

  const stacked = ok(applyEdit(sample('stacked-autoencoder'), { kind: 'renameNode', id: 'encoder', newId: 'enc' })).document;
  assert.equal((stacked.training as { stages: Record<string, unknown>[] }).stages[0]!.encoder, 'enc');

  refused(applyEdit(doc, { kind: 'renameNode', id: 'encoder', newId: 'decoder' }), /already a block called "decoder"/);
  refused(applyEdit(doc, { kind: 'renameNode', id: 'encoder', newId: 'has space' }), /cannot be a block id/);
  refused(applyEdit(doc, { kind: 'renameNode', id: 'ghost', newId: 'x' }), 'There is no block "ghost" in this graph.');
});

test('move writes rounded positions into layout and refuses unknown blocks', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'move', positions: { encoder: { x: 250.5, y: 10.2 }, decoder: { x: -3.7, y: 0 } } })).document;
  assert.deepEqual(layout(r).encoder, { x: 251, y: 10 });
  assert.deepEqual(layout(r).decoder, { x: -4, y: 0 });
  assert.deepEqual(changedLines(doc, r).added, ['    "encoder": {"x": 251, "y": 10},', '    "decoder": {"x": -4, "y": 0},']);
  refused(applyEdit(doc, { kind: 'move', positions: { ghost: { x: 0, y: 0 } } }), 'There is no block "ghost" in this graph.');
  refused(applyEdit(doc, { kind: 'move', positions: {} }), /Nothing to move/);
  const fresh = ok(applyEdit({ formatVersion: 1, name: 'x', nodes: [{ id: 'a', type: 'Input' }] }, { kind: 'move', positions: { a: { x: 1, y: 2 } } })).document;
  assert.deepEqual(fresh.layout, { a: { x: 1, y: 2 } });
});

test('paste assigns fresh ids, keeps only internal edges, offsets positions and copies fields', () => {
  const doc = sample('dense-autoencoder');
  const params = { latentSize: 16, activation: 'relu' };
  const r = ok(
    applyEdit(doc, {
      kind: 'paste',
      nodes: [
        { id: 'encoder', type: 'Encoder', params: { stages: [{ kind: 'dense', units: 8 }] }, label: 'copy', trainable: false },
        { id: 'bottleneck', type: 'Bottleneck', params },
      ],
      edges: [
        { from: 'input', to: 'encoder' }, // from outside the selection: dropped
        { from: 'encoder', to: 'bottleneck' },
        { from: 'bottleneck', to: 'decoder' }, // to outside: dropped
      ],
      positions: { encoder: { x: 240, y: 0 }, bottleneck: { x: 480, y: 0 } },
      offset: { x: 40, y: 60.4 },
    }),
  );
  assert.deepEqual(r.created, ['encoder2', 'bottleneck2']);
  assert.deepEqual(edges(r.document), [...edges(doc), 'encoder2->bottleneck2']);
  assert.deepEqual(node(r.document, 'encoder2'), { id: 'encoder2', type: 'Encoder', label: 'copy', trainable: false, params: { stages: [{ kind: 'dense', units: 8 }] } });
  assert.deepEqual(layout(r.document).encoder2, { x: 280, y: 60 });
  assert.deepEqual(layout(r.document).bottleneck2, { x: 520, y: 60 });
  assert.equal(r.message, 'Pasted 2 blocks and 1 edge.');
  params.latentSize = 1; // the document holds a copy
  assert.equal(node(r.document, 'bottleneck2').params?.latentSize, 16);
  // Pasting again numbers on; a numbered id restarts from its stem.
  const again = ok(applyEdit(r.document, { kind: 'paste', nodes: [{ id: 'encoder2', type: 'Encoder' }], edges: [], positions: {}, offset: { x: 0, y: 0 } }));
  assert.deepEqual(again.created, ['encoder3']);
  refused(applyEdit(doc, { kind: 'paste', nodes: [], edges: [], positions: {}, offset: { x: 0, y: 0 } }), 'Nothing to paste.');
});

test('setTraining sets, creates and deletes nested training fields', () => {
  const doc = sample('autoencoder-classifier');
  const t = (d: Doc) => d.training as Record<string, unknown> & { stages: Record<string, unknown>[] };
  assert.equal(t(ok(applyEdit(doc, { kind: 'setTraining', path: ['epochs'], value: 3 })).document).epochs, 3);
  assert.equal(t(ok(applyEdit(doc, { kind: 'setTraining', path: ['stages', 0, 'epochs'], value: 2 })).document).stages[0]!.epochs, 2);
  assert.equal('learningRate' in t(ok(applyEdit(doc, { kind: 'setTraining', path: ['learningRate'], value: undefined })).document), false);
  const freeze = ok(applyEdit(doc, { kind: 'setTraining', path: ['stages', 1, 'freeze', 1], value: undefined })).document;
  assert.deepEqual(t(freeze).stages[1]!.freeze, ['encoder']);
  const created = ok(applyEdit({ formatVersion: 1, name: 'x', nodes: [] }, { kind: 'setTraining', path: ['split', 'test'], value: 0.1 })).document;
  assert.deepEqual(created.training, { split: { test: 0.1 } });
  refused(applyEdit(doc, { kind: 'setTraining', path: [], value: 1 }), /Say which field of training/);
  refused(applyEdit({ ...doc, training: 5 }, { kind: 'setTraining', path: ['epochs'], value: 1 }), /"training" in this file is not an object/);
});

test('mirrorDecoder adds a Decoder mirroring the Encoder, placed right of it, and returns its id', () => {
  const doc = sample('dense-autoencoder');
  const r = ok(applyEdit(doc, { kind: 'mirrorDecoder', encoderId: 'encoder' }));
  assert.deepEqual(r.created, ['decoder2']);
  assert.deepEqual(edges(r.document), edges(doc), 'no rewiring');
  const stages = (node(r.document, 'decoder2').params as { stages: { units: number }[] }).stages;
  // The Bottleneck's dense code follows the encoder, so the decoder starts by widening it back to 32.
  assert.deepEqual(stages.map((s) => s.units), [32, 64, 128, 784]);
  // Right of the encoder, on a spot no other block occupies.
  const encAt = layout(doc).encoder!;
  const spot = layout(r.document).decoder2!;
  assert.equal(spot.x, encAt.x + 240);
  assert.ok(spot.y >= encAt.y);
  assert.ok(Object.entries(layout(doc)).every(([, p]) => p.x !== spot.x || p.y !== spot.y));
  assert.match(r.message ?? '', /Added Decoder "decoder2" mirroring Encoder "encoder"/);

  // Rewired in place of the hand-written decoder, the graph validates with the same output.
  let d = ok(applyEdit(r.document, { kind: 'removeNodes', ids: ['decoder'] })).document;
  d = ok(applyEdit(d, { kind: 'connect', from: 'bottleneck', to: 'decoder2' })).document;
  d = ok(applyEdit(d, { kind: 'connect', from: 'decoder2', to: 'reconstruction' })).document;
  const a = analyzeGraph(d);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(a.nodes.get('decoder2')!.outputShape, [784]);

  const placed = ok(applyEdit(doc, { kind: 'mirrorDecoder', encoderId: 'encoder', position: { x: 700.2, y: 300.7 } }));
  assert.deepEqual(layout(placed.document).decoder2, { x: 700, y: 301 });
});

test('mirrorDecoder on conv encoders, image→dense encoders, and refusals', () => {
  const conv = ok(applyEdit(sample('fashion-conv-autoencoder'), { kind: 'mirrorDecoder', encoderId: 'encoder' }));
  let d = ok(applyEdit(conv.document, { kind: 'removeNodes', ids: ['decoder'] })).document;
  d = ok(applyEdit(d, { kind: 'connect', from: 'bottleneck', to: 'decoder2' })).document;
  d = ok(applyEdit(d, { kind: 'connect', from: 'decoder2', to: 'reconstruction' })).document;
  assert.deepEqual(analyzeGraph(d).problems, []);

  const transposed = ok(applyEdit(sample('conv-autoencoder'), { kind: 'mirrorDecoder', encoderId: 'encoder', transpose: true }));
  const kinds = (node(transposed.document, 'decoder2').params as { stages: { kind: string }[] }).stages.map((s) => s.kind);
  assert.deepEqual(kinds, ['convTranspose', 'conv']);

  const flat = chainGraph([{ id: 'enc', type: 'Encoder', params: { stages: [{ kind: 'dense', units: 64 }] } }], { input: [28, 28, 1] });
  const withReshape = ok(applyEdit(flat, { kind: 'mirrorDecoder', encoderId: 'enc' }));
  assert.deepEqual(withReshape.created, ['decoder', 'reshape']);
  assert.deepEqual(node(withReshape.document, 'reshape').params, { targetShape: [28, 28, 1] });
  assert.equal(edges(withReshape.document).at(-1), 'decoder->reshape');
  assert.match(withReshape.message ?? '', /Reshape "reshape" after it back to 28x28x1/);

  // An Encoder not wired yet mirrors back to the graph's Input shape.
  const loose = { formatVersion: 1, name: 'x', nodes: [{ id: 'input', type: 'Input', params: { shape: [784] } }, { id: 'enc', type: 'Encoder', params: { stages: [{ kind: 'dense', units: 32 }] } }] };
  const looseStages = (node(ok(applyEdit(loose, { kind: 'mirrorDecoder', encoderId: 'enc' })).document, 'decoder').params as { stages: { units: number }[] }).stages;
  assert.deepEqual(looseStages.map((s) => s.units), [784]);

  refused(applyEdit(sample('dense-autoencoder'), { kind: 'mirrorDecoder', encoderId: 'decoder' }), /Decoder "decoder" is not an Encoder/);
  refused(applyEdit(sample('dense-autoencoder'), { kind: 'mirrorDecoder', encoderId: 'nope' }), 'There is no block "nope" in this graph.');
  const convThenDense = chainGraph([{ id: 'enc', type: 'Encoder', params: { stages: [{ kind: 'conv', filters: 8, pool: 2 }] } }, { id: 'code', type: 'Bottleneck', params: { latentSize: 8 } }], { input: [28, 28, 1] });
  refused(applyEdit(convThenDense, { kind: 'mirrorDecoder', encoderId: 'enc' }), /dense code follows it/);
  const noInput = { formatVersion: 1, name: 'x', nodes: [{ id: 'enc', type: 'Encoder', params: { stages: [{ kind: 'dense', units: 32 }] } }] };
  refused(applyEdit(noInput, { kind: 'mirrorDecoder', encoderId: 'enc' }), /Connect Encoder "enc" to an Input first/);
});

test('edits apply to documents with validation errors', () => {
  const broken: Doc = {
    formatVersion: 1,
    name: 'broken',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [784] } },
      { id: 'mystery', type: 'Densee', params: { units: 'many' } },
      { type: 'Dense' }, // no id at all
      { id: 'out', type: 'Output' },
    ],
    edges: [{ from: 'input', to: 'nowhere' }],
  };
  assert.equal(analyzeGraph(broken).ok, false);
  let d = ok(applyEdit(broken, { kind: 'connect', from: 'input', to: 'mystery' })).document;
  d = ok(applyEdit(d, { kind: 'connect', from: 'mystery', to: 'out' })).document;
  d = ok(applyEdit(d, { kind: 'setNode', id: 'mystery', label: 'fix me' })).document;
  d = ok(applyEdit(d, { kind: 'renameNode', id: 'mystery', newId: 'dense' })).document;
  d = ok(applyEdit(d, { kind: 'setParams', id: 'dense', params: { units: 10 } })).document;
  d = ok(applyEdit(d, { kind: 'disconnect', from: 'input', to: 'nowhere' })).document;
  assert.deepEqual(edges(d), ['input->dense', 'dense->out']);
  assert.equal(nodes(d).length, 4, 'the id-less node is kept for the author to fix');
  refused(applyEdit({ ...broken, nodes: 'oops' }, { kind: 'addNode', type: 'Dense', position: { x: 0, y: 0 } }), /"nodes" in this file is not a list/);
  refused(applyEdit({ ...broken, edges: {} }, { kind: 'connect', from: 'input', to: 'out' }), /"edges" in this file is not a list/);
});

test('one edit, one line: canonical text changes only where the edit is', () => {
  for (const name of ['dense-autoencoder', 'fashion-conv-autoencoder', 'autoencoder-classifier']) {
    const doc = sample(name);
    const lines = (edit: GraphEdit) => changedLines(doc, ok(applyEdit(doc, edit)).document);

    const units = lines({ kind: 'setParam', id: 'encoder', path: ['stages', 0, 'filters' in ((node(doc, 'encoder').params as { stages: object[] }).stages[0] ?? {}) ? 'filters' : 'units'], value: 12 });
    assert.equal(units.removed.length, 1, name);
    assert.equal(units.added.length, 1, name);
    assert.match(units.added[0]!, /^    \{"id": "encoder", "type": "Encoder", "params": \{"stages": \[\{"kind": "(dense", "units"|conv", "filters"): 12,/);

    const epochs = lines({ kind: 'setTraining', path: ['epochs'], value: 7 });
    assert.deepEqual(epochs.added, ['    "epochs": 7,'], name);
    assert.equal(epochs.removed.length, 1);

    const label = lines({ kind: 'setNode', id: 'input', label: 'Pixels' });
    assert.equal(label.added.length, 1);
    assert.match(label.added[0]!, /"id": "input", "type": "Input", "label": "Pixels"/);

    const move = lines({ kind: 'move', positions: { encoder: { x: 1, y: 2 } } });
    assert.deepEqual(move.added, ['    "encoder": {"x": 1, "y": 2},']);
    assert.equal(move.removed.length, 1);
  }
  // Adding a block and wiring it: one node line, one layout line, one edge line (plus commas moving).
  const doc = sample('dense-autoencoder');
  const added = changedLines(doc, ok(applyEdit(doc, { kind: 'addNode', type: 'ClassifierHead', position: { x: 720, y: 180 }, connectFrom: 'bottleneck' })).document);
  assert.deepEqual(
    added.added.filter((l) => l.includes('classifierHead')),
    ['    {"id": "classifierHead", "type": "ClassifierHead", "params": {"classes": 10}}', '    {"from": "bottleneck", "to": "classifierHead"}', '    "classifierHead": {"x": 720, "y": 180}'],
  );
  assert.equal(added.added.length, 6); // the three above, and the previous last lines gaining a comma
});

