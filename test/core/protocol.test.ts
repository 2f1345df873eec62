import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFromWorker, parseToWorker } from '../../src/core/protocol';

test('host messages: valid start and cancel pass, with defaults filled in', () => {
  const r = parseToWorker({ type: 'start', id: 1, request: { graphText: '{}', graphPath: '/g.latent.json', runsDir: '/runs' } });
  assert.ok(r.ok);
  assert.equal(r.ok && r.value.type === 'start' && r.value.request.backend, 'auto');
  assert.ok(parseToWorker({ type: 'cancel', id: 2 }).ok);
});

test('host messages: wrong shapes are refused with the field named', () => {
  const bad = parseToWorker({ type: 'start', id: 1, request: { graphText: '{}', graphPath: '/g', runsDir: '/r', backend: 'gpu' } });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error : '', /request\.backend/);
  assert.equal(parseToWorker({ type: 'explode' }).ok, false);
  assert.equal(parseToWorker(null).ok, false);
});

test('worker messages: an epoch record must be complete; a non-finite batch loss is refused', () => {
  const record = { stage: 'train', stageIndex: 0, epoch: 1, loss: 0.2, valLoss: 0.21, metrics: {}, seconds: 1.5, samplesPerSec: 4000, backend: 'wasm', liveTensors: 30 };
  assert.ok(parseFromWorker({ type: 'epoch', record }).ok);
  const { seconds: _s, ...partial } = record;
  assert.equal(parseFromWorker({ type: 'epoch', record: partial }).ok, false);
  assert.equal(parseFromWorker({ type: 'batch', stageIndex: 0, epoch: 1, batch: 1, batches: 3, loss: Number.NaN }).ok, false);
  assert.ok(parseFromWorker({ type: 'failed', error: { message: 'boom' } }).ok);
});
