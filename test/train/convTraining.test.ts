/**
 * The default backend here (wasm, with src/backend/kernelFixes.ts) trains a conv autoencoder
 * correctly: its gradients on real Fashion-MNIST images agree with the cpu backend's, and a short
 * run through the real worker lowers the validation loss.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tf from '../../src/backend/tf';
import { compileGraph } from '../../src/compile/compile';
import type { FromWorker } from '../../src/core/protocol';
import type { EpochRecord } from '../../src/core/runFormat';
import { batchToFloat, loadDataset } from '../../src/data/index';
import { selectBackend } from '../../src/backend/select';
import { TrainingSession } from '../../src/run/client';
import { analyzeForTraining } from '../../src/train/prepare';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

const SAMPLE = 'fashion-conv-autoencoder';
const graphPath = path.join(SAMPLES_DIR, `${SAMPLE}.latent.json`);

test('fashion conv autoencoder: gradients of every weight on 8 real images agree between wasm and cpu', async () => {
  tf.env().set('PROD', true);
  const analysis = analyzeForTraining(sampleText(SAMPLE), graphPath);
  const plan = analysis.models.find((m) => m.outputId !== undefined)!;
  const ds = await loadDataset({ kind: 'fashion-mnist' });
  const indices = Uint32Array.from({ length: 8 }, (_, i) => i * 997);
  // Fashion-MNIST has flat patches, whose conv outputs tie inside max-pooling windows; XNNPACK's
  // conv (wasm) and the cpu loop round them apart by an ulp in different places, so each backend
  // routes those windows' gradient to a different (equally valid) position: a 1e-3 relative
  // gradient difference that is not a bug. A little fixed noise breaks the ties on both.
  const pixels = batchToFloat(ds, indices, 0, indices.length).map((v, i) => v + 1e-3 * Math.sin(i));

  const gradientsOn = async (backend: 'cpu' | 'wasm'): Promise<{ names: string[]; grads: Float32Array[] }> => {
    await selectBackend({ prefer: backend });
    const compiled = compileGraph(analysis, { seed: 42 });
    try {
      const model = compiled.models.get(plan.name)!;
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const x = tf.tensor(pixels, [indices.length, 28, 28, 1]);
      const { grads } = tf.variableGrads(() => tf.mean(tf.squaredDifference(model.apply(x, { training: true }) as tf.Tensor, x)), variables);
      const out = { names: model.trainableWeights.map((w) => w.originalName), grads: variables.map((v) => grads[v.name]!.dataSync() as Float32Array) };
      tf.dispose([x, ...Object.values(grads)]);
      return out;
    } finally {
      compiled.dispose();
    }
  };
  const cpu = await gradientsOn('cpu');
  const wasm = await gradientsOn('wasm');
  assert.deepEqual(wasm.names, cpu.names);
  const failures: string[] = [];
  cpu.grads.forEach((g, i) => {
    let maxErr = 0;
    let scale = 0;
    g.forEach((v, j) => {
      maxErr = Math.max(maxErr, Math.abs(v - wasm.grads[i]![j]!));
      scale = Math.max(scale, Math.abs(v));
    });
    // float32 sums in different orders; a wrong kernel is off by the gradient's own size.
    if (!(maxErr <= 1e-4 * scale) || scale === 0) failures.push(`${cpu.names[i]}: max abs error ${maxErr} vs cpu, gradient scale ${scale}`);
  });
  if (failures.length > 0) assert.fail(`wasm vs cpu:\n${failures.join('\n')}`);
});

test('fashion conv autoencoder trains on wasm through the worker: validation loss drops by 10% within 16 batches', async () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-conv-train-'));
  try {
    const epochs: EpochRecord[] = [];
    const messages: FromWorker[] = [];
    const session = new TrainingSession(
      { graphText: sampleText(SAMPLE), graphPath, runsDir, backend: 'wasm', epochs: 1, limitSamples: 2048, limitValidation: 512 },
      {
        onMessage: (m) => {
          messages.push(m);
          if (m.type === 'epoch') epochs.push(m.record);
        },
      },
    );
    const done = await session.result;
    assert.equal(done.epochsCompleted, 1);
    const started = messages.find((m) => m.type === 'started');
    assert.ok(started && started.type === 'started');
    assert.equal(started.backend.name, 'wasm');
    const [initial, last] = epochs;
    assert.equal(initial!.epoch, 0);
    assert.ok(Number.isFinite(last!.loss));
    assert.ok(last!.valLoss! <= 0.9 * initial!.valLoss!, `val loss ${initial!.valLoss} -> ${last!.valLoss}`);
  } finally {
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
});
