import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EpochRecord } from '../../src/core/protocol';
import type { PanelSnapshot } from '../../src/core/panelProtocol';
import { batchSeries, epochSeries, reducePanel, stageOffsets } from '../../webview/panel/state';

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
