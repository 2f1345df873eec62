import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EpochRecord, ClassifierPreview, Evaluation } from '../../src/core/runFormat';
import { type Overlay, type PanelSnapshot, parseToPanel } from '../../src/core/panelProtocol';
import { DENOISING_CAPTION } from '../../src/core/protocol';
import type { ScoreResult, WeightsResult } from '../../src/core/inspect';
import { type PanelAction, type PanelModel, alignRuns, batchSeries, comparedEpochSeries, confusionView, epochSeries, initialModel, inspectionOf, reducePanel, reducePanelModel, stageLossSeries, stageOffsets, timelineOffsets, chartSummary } from '../../webview/panel/state';

const record = (stageIndex: number, epoch: number, loss: number | null, valLoss: number, metrics: Record<string, number> = {}): EpochRecord => ({
  stage: `s${stageIndex}`, stageIndex, epoch, loss, valLoss, metrics, seconds: 1, samplesPerSec: 1000, backend: 'wasm', liveTensors: 10,
});

const snapshot: PanelSnapshot = {
  run: { graphName: 'g', graphFile: 'g.latent.json', runDir: '/r', backend: null, dataset: null, stages: [{ name: 'a', kind: 'fit', epochs: 2, batchesPerEpoch: 4 }, { name: 'b', kind: 'fit', epochs: 3, batchesPerEpoch: 4 }] },
  status: 'running',
  message: null,
  epochs: [],
  batches: [],
  preview: null,
  classifier: null,
  evaluation: null,
  overlays: [],
  inspections: [],
  problems: [],
};

test('the reducer replays a run: snapshot, epochs, batches, preview, final status', () => {
  let s = reducePanel(null, { type: 'epoch', record: record(0, 1, 0.5, 0.4) });
  assert.equal(s, null, 'nothing before the snapshot');
  s = reducePanel(s, { type: 'snapshot', snapshot });
  s = reducePanel(s, { type: 'epoch', record: record(0, 0, null, 0.69) });
  s = reducePanel(s, { type: 'batch', point: { stageIndex: 0, epoch: 1, batch: 2, batches: 4, loss: 0.6 } });
  s = reducePanel(s, { type: 'epoch', record: record(0, 1, 0.5, 0.4) });
  s = reducePanel(s, { type: 'preview', epoch: 1, pngBase64: 'AAAA' });
  s = reducePanel(s, { type: 'status', status: 'stopped', message: '1 epoch(s)' });
  assert.ok(s);
  assert.equal(s.epochs.length, 2);
  assert.equal(s.batches.length, 1);
  assert.deepEqual(s.preview, { epoch: 1, pngBase64: 'AAAA' });
  assert.equal(s.status, 'stopped');
  assert.equal(s.message, '1 epoch(s)');
  assert.equal(snapshot.epochs.length, 0, 'the snapshot it started from is not mutated');
  // A denoising autoencoder's preview says what its three rows are; the next plain one drops the caption.
  const preview = parseToPanel({ type: 'preview', epoch: 2, pngBase64: 'BBBB', caption: DENOISING_CAPTION });
  assert.ok(preview.ok);
  s = reducePanel(s, preview.value);
  assert.deepEqual(s!.preview, { epoch: 2, pngBase64: 'BBBB', caption: DENOISING_CAPTION });
  s = reducePanel(s, { type: 'preview', epoch: 3, pngBase64: 'CCCC' });
  assert.deepEqual(s!.preview, { epoch: 3, pngBase64: 'CCCC' });
});

test('stages share one timeline; curves and metrics line up with it', () => {
  const s = { ...snapshot, epochs: [record(0, 0, null, 0.7), record(0, 1, 0.5, 0.45), record(0, 2, 0.4, 0.41), record(1, 0, null, 2.3, { valAccuracy: 0.1 }), record(1, 1, 1.1, 0.9, { accuracy: 0.7, valAccuracy: 0.75 })] };
  assert.deepEqual(stageOffsets(s), [0, 2]);
  const e = epochSeries(s);
  assert.deepEqual(e.x, [0, 1, 2, 2, 3]);
  assert.deepEqual(e.loss[0]!.values, [null, 0.5, 0.4, null, 1.1]);
  assert.deepEqual(e.metrics.map((m) => m.label), ['accuracy', 'valAccuracy']);
  assert.deepEqual(e.metrics[1]!.values, [null, null, null, 0.1, 0.75]);
});

test('batch losses are placed within their epoch and smoothed without start-up bias', () => {
  const s = { ...snapshot, batches: [1, 2, 3, 4].map((b) => ({ stageIndex: 0, epoch: 1, batch: b, batches: 4, loss: 1 })) };
  const b = batchSeries(s);
  assert.deepEqual(b.x, [0.25, 0.5, 0.75, 1]);
  for (const v of b.smooth) assert.ok(Math.abs(v - 1) < 1e-12, 'a constant loss smooths to itself');
});

const classifier: ClassifierPreview = {
  classNames: ['cat', 'dog', 'bird'],
  confusion: [[8, 2, 0], [1, 9, 0], [0, 0, 0]],
  stripPngBase64: 'BBBB',
  labels: [0, 1, 1],
  predicted: [0, 0, 1],
  confidence: [0.9, 0.55, 0.8],
};

const evaluation: Evaluation = {
  runDir: '/r', split: 'test', dataset: 'mnist', samples: 2000, stage: 'b', outputId: 'classes', target: 'labels',
  lossName: 'categoricalCrossentropy', loss: 0.12, metrics: { accuracy: 0.97 }, classifier, backend: 'wasm', evaluatedAt: '2025-01-01T00:00:00.000Z',
};

const overlay = (label: string, stages: Overlay['stages'], epochs: EpochRecord[]): Overlay => ({ label, runDir: `/runs/${label}`, stages, epochs });

test('classifier pictures, evaluations and overlays replace the previous ones; other state is kept', () => {
  let s = reducePanel(null, { type: 'classifier', stageIndex: 1, epoch: 1, preview: classifier });
  assert.equal(s, null, 'nothing before the snapshot');
  s = reducePanel(s, { type: 'snapshot', snapshot: { ...snapshot, epochs: [record(0, 1, 0.5, 0.4)] } });
  s = reducePanel(s, { type: 'classifier', stageIndex: 1, epoch: 1, preview: classifier });
  const second = { ...classifier, confusion: [[10, 0, 0], [0, 10, 0], [0, 0, 0]] };
  s = reducePanel(s, { type: 'classifier', stageIndex: 1, epoch: 2, preview: second });
  assert.ok(s);
  assert.deepEqual(s.classifier, { stageIndex: 1, epoch: 2, preview: second }, 'the newest epoch wins');
  s = reducePanel(s, { type: 'evaluation', evaluation });
  s = reducePanel(s, { type: 'overlays', overlays: [overlay('old', [], [record(0, 1, 0.6, 0.5)])] });
  assert.ok(s);
  assert.equal(s.evaluation, evaluation);
  assert.equal(s.overlays.length, 1);
  assert.equal(s.epochs.length, 1, 'the run itself is untouched');
  assert.equal(s.classifier?.epoch, 2, 'an evaluation does not replace the live classifier pictures');
  s = reducePanel(s, { type: 'overlays', overlays: [] });
  assert.deepEqual(s?.overlays, [], 'an empty list clears the comparison');
  // A new snapshot (another run shown in the panel) drops everything of the old run.
  s = reducePanel(s, { type: 'snapshot', snapshot });
  assert.equal(s?.classifier, null);
  assert.equal(s?.evaluation, null);
});

test('a snapshot from an older host without the new fields parses with their defaults', () => {
  const { classifier: _c, evaluation: _e, overlays: _o, ...old } = snapshot;
  const parsed = parseToPanel({ type: 'snapshot', snapshot: old });
  assert.ok(parsed.ok && parsed.value.type === 'snapshot');
  const s = reducePanel(null, parsed.value);
  assert.equal(s?.classifier, null);
  assert.equal(s?.evaluation, null);
  assert.deepEqual(s?.overlays, []);
  assert.equal(parseToPanel({ type: 'command', command: 'evaluate' }).ok, false, 'FromPanel messages are not ToPanel');
});

test('alignRuns merges x arrays into one sorted axis with nulls, keeping repeated x values apart', () => {
  const a = { x: [0, 1, 2, 2, 3], series: [[10, 11, 12, 20, 21]] };
  const b = { x: [0, 2, 4], series: [[100, 102, 104]] };
  const r = alignRuns([a, b]);
  assert.deepEqual(r.x, [0, 1, 2, 2, 3, 4]);
  assert.deepEqual(r.series[0]![0], [10, 11, 12, 20, 21, null]);
  assert.deepEqual(r.series[1]![0], [100, null, 102, null, null, 104]);
  // Unsorted input (a resumed run's records) is placed by x; equal x keep their order.
  const c = alignRuns([{ x: [2, 0, 1, 1], series: [['two', 'zero', 'one-a', 'one-b'].map((_, i) => i)] }]);
  assert.deepEqual(c.x, [0, 1, 1, 2]);
  assert.deepEqual(c.series[0]![0], [1, 2, 3, 0]);
  assert.deepEqual(alignRuns([{ x: [], series: [[]] }, { x: [1], series: [[5]] }]), { x: [1], series: [[[null]], [[5]]] });
});

test('overlays sit on their own stage timeline and line up with this run on one x array', () => {
  // This run: stage a (2 epochs) then stage b (3 epochs), 2 epochs into b.
  const own = [record(0, 0, null, 0.7), record(0, 1, 0.5, 0.45), record(0, 2, 0.4, 0.41), record(1, 0, null, 2.3, { valAccuracy: 0.1 }), record(1, 1, 1.1, 0.9, { accuracy: 0.7, valAccuracy: 0.75 })];
  // The other run: stage a planned for 4 epochs (done), stage b 1 epoch: b starts at x = 4, not 2.
  const other = overlay('long', [{ name: 'a', kind: 'fit', epochs: 4, batchesPerEpoch: 4 }, { name: 'b', kind: 'fit', epochs: 1, batchesPerEpoch: 4 }], [
    record(0, 1, 0.6, 0.55), record(0, 2, 0.5, 0.5), record(0, 3, 0.45, 0.46), record(0, 4, 0.42, 0.44), record(1, 1, 0.9, 0.8, { accuracy: 0.8, valAccuracy: 0.82, auc: 0.9 }),
  ]);
  // A third run with no stage plan: its stages take the epochs seen.
  const short = overlay('short', [], [record(0, 1, 0.7, 0.6), record(1, 1, 1.3, 1.2)]);
  assert.deepEqual(timelineOffsets(other.stages, other.epochs), [0, 4]);
  assert.deepEqual(timelineOffsets(short.stages, short.epochs), [0, 1]);

  const s = { ...snapshot, epochs: own, overlays: [other, short] };
  const c = comparedEpochSeries(s);
  // Rows are shared where runs have a point at the same x; the stage boundary of this run keeps two rows at x = 2.
  assert.deepEqual(c.x, [0, 1, 2, 2, 3, 4, 5]);
  assert.equal(c.points, 5, 'data-points counts this run only');
  const by = Object.fromEntries(c.loss.map((l) => [l.label, l]));
  assert.deepEqual(Object.keys(by), ['loss', 'val_loss', 'loss · long', 'val_loss · long', 'loss · short', 'val_loss · short']);
  assert.deepEqual(by['val_loss']!.values, [0.7, 0.45, 0.41, 2.3, 0.9, null, null]);
  assert.deepEqual(by['loss · long']!.values, [null, 0.6, 0.5, null, 0.45, 0.42, 0.9]);
  assert.deepEqual(by['loss · short']!.values, [null, 0.7, 1.3, null, null, null, null]);
  assert.equal(by['loss · long']!.overlay, 0);
  assert.equal(by['loss · short']!.overlay, 1);
  assert.equal(by['loss']!.overlay, undefined);
  assert.equal(by['loss · long']!.key, 'loss', 'an overlay shares its colour key with this run');
  // Every series is as long as x (uPlot needs aligned data), and this run's points are all kept.
  for (const l of [...c.loss, ...c.metrics]) assert.equal(l.values.length, c.x.length, l.label);
  assert.deepEqual(by['loss']!.values.filter((v) => v !== null), [0.5, 0.4, 1.1]);
  // Metrics: this run's names plus ones only an overlay has; overlays without a metric draw no line.
  assert.deepEqual(c.metrics.map((m) => m.label), ['accuracy', 'auc', 'valAccuracy', 'accuracy · long', 'auc · long', 'valAccuracy · long']);
  const auc = c.metrics.find((m) => m.label === 'auc')!;
  assert.ok(auc.values.every((v) => v === null), 'this run has no auc: an empty series, not a missing one');
});

test('without overlays the compared series are exactly this run\'s', () => {
  const s = { ...snapshot, epochs: [record(0, 0, null, 0.7), record(0, 1, 0.5, 0.45), record(1, 0, null, 2.3)] };
  const c = comparedEpochSeries(s);
  const e = epochSeries(s);
  assert.deepEqual(c.x, e.x);
  assert.deepEqual(c.loss, e.loss);
  assert.equal(c.points, 3);
  // Records out of order (a resumed run) still give uPlot an ascending x.
  const shuffled = comparedEpochSeries({ ...s, epochs: [record(1, 1, 0.9, 0.8), record(0, 1, 0.5, 0.45), record(0, 0, null, 0.7)] });
  assert.deepEqual(shuffled.x, [0, 1, 3]);
  assert.deepEqual(shuffled.loss[1]!.values, [0.7, 0.45, 0.8]);
  // An overlay with no epochs yet adds series but no x.
  const empty = comparedEpochSeries({ ...s, overlays: [overlay('empty', [], [])] });
  assert.deepEqual(empty.x, e.x);
  assert.deepEqual(empty.loss.map((l) => l.label), ['loss', 'val_loss', 'loss · empty', 'val_loss · empty']);
});

test('the confusion view normalises by row and survives empty rows and ragged input', () => {
  const v = confusionView(classifier.classNames, classifier.confusion);
  assert.deepEqual(v.rowTotals, [10, 10, 0]);
  assert.deepEqual(v.share[0], [0.8, 0.2, 0]);
  assert.deepEqual(v.share[2], [0, 0, 0], 'no samples of a class: no division by zero');
  assert.deepEqual(v.recall, [0.8, 0.9, null]);
  assert.equal(v.total, 20);
  assert.equal(v.accuracy, 17 / 20);
  const ragged = confusionView(['a'], [[1, 2], [3]]);
  assert.deepEqual(ragged.classNames, ['a', '1']);
  assert.deepEqual(ragged.counts, [[1, 2], [3, 0]]);
  assert.equal(confusionView([], []).accuracy, null);
});

const inspected = { runDir: '/r', stage: 'a', outputId: 'out', backend: 'cpu', at: '2025-01-01T00:00:00.000Z' };
const score = (threshold: number): ScoreResult => ({
  kind: 'score', ...inspected, split: 'test', dataset: 'mnist', metric: 'meanSquaredError', indices: [0, 1], positions: [0, 1], scores: [0.1, 0.3], trainedClasses: null,
  threshold, thresholdRule: 'the 99th percentile', worst: [], worstPngBase64: '', csvFile: '/r/scores.csv',
});
const weights: WeightsResult = { kind: 'weights', ...inspected, layer: 'd', layers: ['d'], layerKind: 'dense', units: 4, shown: 4, tile: [2, 2], pngBase64: 'AAAA', file: '/r/weights.png' };
const replay = (actions: PanelAction[], from: PanelModel = initialModel()): PanelModel => actions.reduce(reducePanelModel, from);

test('inspect jobs: busy while running, the error sentence when failed, the newest result per kind', () => {
  let m = replay([{ type: 'snapshot', snapshot }]);
  assert.equal(m.ui.view, 'training', 'the Training tab is the default');
  assert.equal(m.ui.busy.score, false);
  // The panel asks: busy at once; the host confirms, then finishes and sends the result.
  m = replay([{ type: 'inspectRequested', kind: 'score' }], m);
  assert.equal(m.ui.busy.score, true);
  m = replay([{ type: 'inspecting', kind: 'score', busy: true, error: null }, { type: 'inspecting', kind: 'score', busy: false, error: null }, { type: 'inspection', result: score(0.2) }], m);
  assert.equal(m.ui.busy.score, false);
  assert.equal(inspectionOf(m.data, 'score')?.threshold, 0.2);
  assert.equal(inspectionOf(m.data, 'weights'), null);
  // A second result of a kind replaces the first; other kinds are kept as they were (same object).
  m = replay([{ type: 'inspection', result: weights }, { type: 'inspection', result: score(0.25) }], m);
  assert.equal(m.data?.inspections.length, 2);
  assert.equal(inspectionOf(m.data, 'score')?.threshold, 0.25);
  assert.equal(inspectionOf(m.data, 'weights'), weights);
  // A failure leaves its sentence on that kind only; running again clears it.
  m = replay([{ type: 'inspecting', kind: 'latent', busy: true, error: null }, { type: 'inspecting', kind: 'latent', busy: false, error: 'The model has no Bottleneck block.' }], m);
  assert.equal(m.ui.errors.latent, 'The model has no Bottleneck block.');
  assert.equal(m.ui.busy.latent, false);
  assert.equal(m.ui.errors.score, null);
  m = replay([{ type: 'inspectRequested', kind: 'latent' }], m);
  assert.equal(m.ui.errors.latent, null);
  assert.equal(m.ui.busy.latent, true);
  // A result ends the job even when its `inspecting` never came.
  m = replay([{ type: 'inspectRequested', kind: 'weights' }, { type: 'inspection', result: weights }], m);
  assert.equal(m.ui.busy.weights, false);
  // Training deltas leave the inspections alone.
  const before = m.data?.inspections;
  m = replay([{ type: 'epoch', record: record(0, 1, 0.5, 0.4) }], m);
  assert.equal(m.data?.inspections, before);
});

test('tabs: the person picks one, the host can focus one, even before the first snapshot', () => {
  let m = replay([{ type: 'showView', view: 'predict' }]);
  assert.equal(m.ui.view, 'predict');
  assert.equal(m.data, null);
  m = replay([{ type: 'focus', view: 'weights' }, { type: 'inspecting', kind: 'weights', busy: true, error: null }]);
  assert.equal(m.ui.view, 'weights', 'a palette command opened the panel on its tab');
  assert.equal(m.ui.busy.weights, true);
  m = replay([{ type: 'snapshot', snapshot }], m);
  assert.equal(m.ui.view, 'weights', 'the first snapshot keeps what came before it');
  assert.equal(m.ui.busy.weights, true);
  // The same run again (a reload of the webview, or the host re-sending): the tab stays.
  m = replay([{ type: 'snapshot', snapshot: { ...snapshot, status: 'completed' } }], m);
  assert.equal(m.ui.view, 'weights');
  // Another run: back to Training, nothing busy or failed.
  m = replay([{ type: 'inspecting', kind: 'score', busy: false, error: 'failed' }, { type: 'snapshot', snapshot: { ...snapshot, run: { ...snapshot.run, runDir: '/other' } } }], m);
  assert.equal(m.ui.view, 'training');
  assert.equal(m.ui.busy.weights, false);
  assert.equal(m.ui.errors.score, null);
  // A restored tab (webview state after a reload) is where the panel starts.
  assert.equal(initialModel('latent').ui.view, 'latent');
  // Nothing changes, nothing is copied (React skips the render).
  assert.equal(reducePanelModel(m, { type: 'showView', view: 'training' }), m);
  assert.equal(reducePanelModel(m, { type: 'focus', view: 'training' }), m);
});

test('a snapshot restores the run\'s inspections; the protocol fills in an older host\'s missing list', () => {
  const m = replay([{ type: 'snapshot', snapshot: { ...snapshot, inspections: [score(0.3), weights] } }]);
  assert.equal(inspectionOf(m.data, 'score')?.threshold, 0.3);
  assert.equal(inspectionOf(m.data, 'weights')?.layer, 'd');
  const { inspections: _i, ...old } = snapshot;
  const parsed = parseToPanel({ type: 'snapshot', snapshot: old });
  assert.ok(parsed.ok);
  assert.deepEqual(replay([parsed.value]).data?.inspections, []);
  assert.equal(reducePanel(null, { type: 'inspection', result: weights }), null, 'a result before any snapshot has no run to go to');
});

test('stageLossSeries: one segment per stage on its own scale, named by its loss; a layer-wise stage one per step', () => {
  const at = (stageIndex: number, stage: string, epoch: number, loss: number | null, valLoss: number): EpochRecord => ({ ...record(stageIndex, epoch, loss, valLoss), stage });
  const state: PanelSnapshot = {
    ...snapshot,
    run: {
      ...snapshot.run,
      stages: [
        { name: 'pretrain', kind: 'layerwise', epochs: 6, batchesPerEpoch: 4 },
        { name: 'autoencoder', kind: 'fit', epochs: 2, batchesPerEpoch: 4, loss: 'binaryCrossentropy' },
        { name: 'classifier', kind: 'fit', epochs: 2, batchesPerEpoch: 4, loss: 'categoricalCrossentropy' },
      ],
    },
    epochs: [
      at(0, 'pretrain · layer 1 (784→128)', 1, 0.69, 0.6),
      at(0, 'pretrain · layer 1 (784→128)', 2, 0.5, 0.45),
      at(0, 'pretrain · layer 2 (128→64)', 3, 0.9, 0.5),
      at(0, 'pretrain · layer 2 (128→64)', 4, 0.3, 0.2),
      at(0, 'pretrain · softmax', 5, 2.6, 2.5),
      at(0, 'pretrain · softmax', 6, 2.4, 2.4),
      at(1, 'autoencoder', 0, null, 0.69),
      at(1, 'autoencoder', 2, 0.2, 0.21),
      at(1, 'autoencoder', 1, 0.3, 0.3),
      at(2, 'classifier', 0, null, 2.3),
      at(2, 'classifier', 1, 1.1, 0.9),
    ],
  };
  const groups = stageLossSeries(state);
  assert.deepEqual(
    groups.map((g) => [g.label, g.lossText]),
    [
      ['pretrain · layer 1 (784→128)', 'binary cross-entropy'],
      ['pretrain · layer 2 (128→64)', 'mean squared error'],
      ['pretrain · softmax', 'categorical cross-entropy'],
      ['autoencoder', 'binary cross-entropy'],
      ['classifier', 'categorical cross-entropy'],
    ],
  );
  const ae = groups[3]!;
  assert.deepEqual(ae.x, [0, 1, 2], "a stage's own epochs, in order");
  assert.deepEqual(ae.loss.map((s) => s.values), [[null, 0.3, 0.2], [0.69, 0.3, 0.21]]);
  assert.deepEqual(groups[4]!.loss[1]!.values, [2.3, 0.9], "the classifier's curve is its own, not on the autoencoder's axis");
  // One stage: one group (the panel then draws the one chart it always drew).
  assert.equal(stageLossSeries({ ...snapshot, epochs: [record(0, 0, null, 1), record(0, 1, 0.5, 0.4)] }).length, 1);
});

test('stageLossSeries with compared runs: each overlay joins its stage, on that stage\'s epochs; an overlay-only stage comes last', () => {
  const at = (stageIndex: number, stage: string, epoch: number, loss: number | null, valLoss: number): EpochRecord => ({ ...record(stageIndex, epoch, loss, valLoss), stage });
  const stages: Overlay['stages'] = [
    { name: 'autoencoder', kind: 'fit', epochs: 2, batchesPerEpoch: 4, loss: 'binaryCrossentropy' },
    { name: 'classifier', kind: 'fit', epochs: 2, batchesPerEpoch: 4, loss: 'categoricalCrossentropy' },
  ];
  const state: PanelSnapshot = {
    ...snapshot,
    run: { ...snapshot.run, stages },
    epochs: [at(0, 'autoencoder', 0, null, 0.69), at(0, 'autoencoder', 1, 0.3, 0.3), at(1, 'classifier', 0, null, 2.3), at(1, 'classifier', 1, 1.1, 0.9)],
    overlays: [
      overlay('old', stages, [at(0, 'autoencoder', 0, null, 0.7), at(0, 'autoencoder', 1, 0.4, 0.35), at(0, 'autoencoder', 2, 0.25, 0.3), at(1, 'classifier', 0, null, 2.2)]),
      overlay('tuned', [{ name: 'finetune', kind: 'fit', epochs: 1, batchesPerEpoch: 4, loss: 'meanSquaredError' }], [at(0, 'finetune', 1, 0.05, 0.06)]),
    ],
  };
  const groups = stageLossSeries(state);
  assert.deepEqual(groups.map((g) => [g.label, g.lossText]), [['autoencoder', 'binary cross-entropy'], ['classifier', 'categorical cross-entropy'], ['finetune', 'mean squared error']]);
  const [ae, cls, fine] = groups as [(typeof groups)[number], (typeof groups)[number], (typeof groups)[number]];
  assert.deepEqual(ae.x, [0, 1, 2], 'the union of both runs\' epochs of the stage');
  assert.deepEqual(ae.loss.map((s) => [s.label, s.overlay, s.values]), [
    ['loss', undefined, [null, 0.3, null]],
    ['val_loss', undefined, [0.69, 0.3, null]],
    ['loss · old', 0, [null, 0.4, 0.25]],
    ['val_loss · old', 0, [0.7, 0.35, 0.3]],
  ]);
  assert.deepEqual(cls.loss.map((s) => s.label), ['loss', 'val_loss', 'loss · old', 'val_loss · old']);
  assert.deepEqual(cls.loss[3]!.values, [2.2, null], "the overlay's classifier on the classifier's axis, not the autoencoder's");
  assert.deepEqual(fine.loss.map((s) => [s.label, s.overlay, s.values]), [['loss · tuned', 1, [0.05]], ['val_loss · tuned', 1, [0.06]]], 'this run has no finetune stage: only the overlay draws there');
});

test('chartSummary: each series in words (first, last, lowest and where), for screen readers', () => {
  const text = chartSummary('Loss per epoch', 'epoch', [0, 1, 2, 3], [
    { label: 'loss', values: [null, 0.5, 0.3, 0.35] },
    { label: 'val_loss', values: [0.69, 0.4, 0.28, 0.29] },
  ]);
  assert.equal(text, 'Loss per epoch: loss from 0.500 at epoch 1 to 0.350 at epoch 3, lowest 0.300 at epoch 2 (3 points); val_loss from 0.690 at epoch 0 to 0.290 at epoch 3, lowest 0.280 at epoch 2 (4 points).');
  assert.equal(chartSummary('Metrics', 'epoch', [], [{ label: 'accuracy', values: [] }]), 'Metrics: no values yet.');
});
