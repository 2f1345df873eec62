/**
 * The backend self-check: agrees on every backend that computes correctly, and catches one that
 * does not (a cpu copy with a deliberately wrong MaxPoolGrad, as wasm 4.22 ships one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '../../src/backend/tf';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { selectBackend } from '../../src/backend/select';
import { selfCheck } from '../../src/backend/selfCheck';

test('the self-check passes on the backends that load here (wasm with our kernels)', async () => {
  const info = await selectBackend({ prefer: 'wasm' });
  assert.equal(info.name, 'wasm');
  assert.equal(await selfCheck('wasm'), null);
  assert.equal(tf.getBackend(), 'wasm', 'the checked backend stays active');
});

test('the self-check names the wrong gradient of a backend with a broken kernel', async () => {
  tf.registerBackend('broken-cpu', () => new MathBackendCPU());
  for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'broken-cpu' });
  const maxPoolGrad = tf.getKernel('MaxPoolGrad', 'cpu')!;
  tf.unregisterKernel('MaxPoolGrad', 'broken-cpu');
  // Half the right gradient: plausible numbers, wrong training.
  tf.registerKernel({
    kernelName: 'MaxPoolGrad',
    backendName: 'broken-cpu',
    kernelFunc: (args) => {
      const right = maxPoolGrad.kernelFunc(args) as tf.TensorInfo;
      const t = tf.engine().makeTensorFromTensorInfo(right);
      const half = tf.mul(t, 0.5);
      const keep = { dataId: half.dataId, shape: half.shape, dtype: half.dtype };
      tf.engine().incRef(half, tf.engine().backend);
      t.dispose();
      half.dispose();
      return keep;
    },
  });
  const verdict = await selfCheck('broken-cpu');
  assert.match(verdict ?? '', /self-check failed: one training step computes wrong values \(.*gradient of (x|k1|b1)\[/);
  tf.removeBackend('broken-cpu');
});
