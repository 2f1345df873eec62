/** The status bar's ETA (core/eta.ts): the whole run's remaining time from throttled batch reports. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtaEstimator } from '../../src/core/eta';
import type { StagePlan } from '../../src/core/protocol';

const stage = (name: string, epochs: number, batchesPerEpoch: number, extra: Partial<StagePlan> = {}): StagePlan => ({ name, kind: 'fit', epochs, batchesPerEpoch, ...extra });

/** Reports as an engine sends them: one every `reportMs` (the batch then running), and each epoch's end. */
function simulate(eta: EtaEstimator, stageIndex: number, epochs: number, batches: number, epochMs: number, reportMs: number, t0: number, until?: (epoch: number) => boolean): number {
  let t = t0;
  let lastReport = -Infinity;
  for (let e = 1; e <= epochs; e++) {
    for (let b = 1; b <= batches; b++) {
      t += epochMs / batches;
      if (t - lastReport >= reportMs || b === batches) {
        lastReport = t;
        eta.observe(t, stageIndex, e, b, batches);
      }
    }
    if (until?.(e)) return t;
  }
  return t;
}

describe('ETA', () => {
  it('is unknown until progress has been seen over time', () => {
    const eta = new EtaEstimator();
    assert.equal(eta.remainingSeconds([stage('train', 10, 28)], 0), undefined);
    eta.observe(1000, 0, 1, 5, 28);
    assert.equal(eta.remainingSeconds([stage('train', 10, 28)], 1000), undefined);
  });

  it('the dense sample at 1.1 s per epoch with reports every 0.5 s: within 10 % of the remaining epochs × 1.1 s at epoch 4 and at epoch 27, and falling', () => {
    // The case: "epoch 27/100 · ETA 0:01" at 1.1 s per epoch (the first report of an epoch came mid-epoch).
    const stages = [stage('train', 100, 28)];
    const seen: number[] = [];
    for (const at of [4, 27]) {
      const fresh = new EtaEstimator();
      const t = simulate(fresh, 0, 100, 28, 1100, 500, 0, (e) => e === at);
      const remaining = fresh.remainingSeconds(stages, t)!;
      const want = (100 - at) * 1.1;
      assert.ok(Math.abs(remaining - want) <= 0.1 * want, `epoch ${at}: ETA ${remaining.toFixed(1)} s, ${want.toFixed(1)} s left`);
    }
    let now = 0;
    const eta2 = new EtaEstimator();
    // Each epoch's end, read a little after it (the status bar refreshes on a timer).
    simulate(eta2, 0, 8, 28, 1100, 500, 0, (e) => {
      now = e * 1100 + 200;
      const r = eta2.remainingSeconds(stages, now);
      if (r !== undefined) seen.push(r);
      return false;
    });
    assert.ok(seen.length >= 7, `known from the first epoch on: ${seen.length} values`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! < seen[i - 1]!, `ETA falls from epoch to epoch: ${seen.map((s) => s.toFixed(1)).join(', ')}`);
  });

  it('counts the later stages that train at this stage\'s speed per batch, not skipped ones, and time since the last report', () => {
    const stages = [stage('autoencoder', 10, 28), stage('skipped', 50, 28, { skipped: 'not selected with --stage' }), stage('classifier', 5, 200)];
    const eta = new EtaEstimator();
    const t = simulate(eta, 0, 10, 28, 2800, 500, 0, (e) => e === 5);
    // 5 epochs of 28 batches left at 0.1 s a batch, then 5 × 200 batches.
    const r = eta.remainingSeconds(stages, t)!;
    const want = 5 * 2.8 + 5 * 200 * 0.1;
    assert.ok(Math.abs(r - want) <= 0.05 * want, `ETA ${r} s, want ${want} s`);
    assert.ok(Math.abs(eta.remainingSeconds(stages, t + 10_000)! - (r - 10)) < 1e-9, 'ten seconds later, ten seconds less');
    // A new stage starts a new measurement.
    eta.observe(t + 1000, 2, 1, 10, 200);
    assert.equal(eta.remainingSeconds(stages, t + 1000), undefined);
  });
});
