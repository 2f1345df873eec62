/**
 * Graphs that reach every block type, every layer kind and every padding case an exporter has to get
 * right, and random weights for a compiled graph (biases and batch-norm statistics too, so none is a
 * trivial 0 or 1). Shared by the PyTorch and the ONNX export tests.
 */
import * as tf from '../../src/backend/tf';
import type { compileGraph } from '../../src/compile/compile';
import { mulberry32 } from '../../src/data/random';
import { chainGraph } from './samples';

/** Graphs that reach every layer kind and every padding case model.py and the ONNX export have to get right. */
export const COVERAGE: Record<string, Record<string, unknown>> = {
  // 8x8x3 through asymmetric "same" convs, -inf and ceil-mode pooling, transposed convs that crop and pad, Dense on an image, softmax over channels.
  'padding and shapes': chainGraph(
    [
      { id: 'c1', type: 'Conv2D', params: { filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' } },
      { id: 'bn1', type: 'BatchNormalization', params: { momentum: 0.9, epsilon: 0.01 } },
      { id: 'c2', type: 'Conv2D', params: { filters: 5, kernelSize: 2, strides: 1, padding: 'same', activation: 'elu' } },
      { id: 'p1', type: 'MaxPooling2D', params: { poolSize: 3, strides: 1, padding: 'same' } },
      { id: 't1', type: 'Conv2DTranspose', params: { filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'selu' } },
      { id: 't2', type: 'Conv2DTranspose', params: { filters: 2, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh' } },
      { id: 't3', type: 'Conv2DTranspose', params: { filters: 2, kernelSize: 1, strides: 2, padding: 'valid', activation: 'leakyRelu' } },
      { id: 'p2', type: 'MaxPooling2D', params: { poolSize: 2, padding: 'same' } },
      { id: 'p3', type: 'MaxPooling2D', params: { poolSize: 3, strides: 2, padding: 'same' } },
      { id: 'c3', type: 'Conv2D', params: { filters: 3, kernelSize: 3, padding: 'valid', activation: 'sigmoid' } },
      { id: 'up', type: 'UpSampling2D', params: { size: [2, 3] } },
      { id: 'sm', type: 'Activation', params: { activation: 'softmax' } },
      { id: 'd_img', type: 'Dense', params: { units: 4, activation: 'linear' } },
      { id: 'flat', type: 'Flatten' },
      { id: 'd1', type: 'Dense', params: { units: 16, activation: 'tanh' } },
      { id: 'bn2', type: 'BatchNormalization' },
      { id: 'drop', type: 'Dropout', params: { rate: 0.3 } },
      { id: 'gauss', type: 'GaussianNoise', params: { stddev: 0.2 } },
      { id: 'mask', type: 'Noise', params: { mode: 'masking', rate: 0.2 } },
      { id: 'r1', type: 'Reshape', params: { targetShape: [4, 4, 1] } },
      { id: 'c4', type: 'Conv2D', params: { filters: 2, kernelSize: [3, 1], strides: [1, 2], padding: 'same', activation: 'linear' } },
      { id: 'flat2', type: 'Flatten' },
      { id: 'd2', type: 'Dense', params: { units: 192, activation: 'sigmoid', useBias: false } },
      { id: 'r2', type: 'Reshape', params: { targetShape: [8, 8, 3] } },
    ],
    { input: [8, 8, 3] },
  ),
  // Odd sizes through Encoder / Decoder stages with batch norm, pooling, upsampling and transposed stages, a variational code and a classifier head.
  'blocks': {
    formatVersion: 1,
    name: 'blocks',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [7, 7, 2] } },
      {
        id: 'encoder',
        type: 'Encoder',
        params: {
          stages: [
            { kind: 'conv', filters: 4, kernelSize: 3, strides: 1, batchNorm: true, pool: 2 },
            { kind: 'conv', filters: 6, kernelSize: 2, strides: 2, activation: 'selu', pool: 1 },
            { kind: 'dense', units: 12, activation: 'elu', batchNorm: true, dropout: 0.2 },
          ],
        },
      },
      { id: 'bottleneck', type: 'Bottleneck', params: { latentSize: 3, variational: true, klWeight: 2 } },
      {
        id: 'decoder',
        type: 'Decoder',
        params: {
          stages: [
            { kind: 'dense', units: 48, activation: 'relu' },
          ],
        },
      },
      { id: 'reshape', type: 'Reshape', params: { targetShape: [4, 4, 3] } },
      {
        id: 'decoder2',
        type: 'Decoder',
        params: {
          stages: [
            { kind: 'convTranspose', filters: 3, kernelSize: 3, strides: 2, batchNorm: true },
            { kind: 'conv', filters: 2, kernelSize: 2, padding: 'valid', activation: 'sigmoid' },
          ],
        },
      },
      { id: 'reconstruction', type: 'Output', params: { target: 'input' } },
      { id: 'head', type: 'ClassifierHead', params: { classes: 4, hidden: [5], dropout: 0.1 } },
      { id: 'labels', type: 'Output', params: { target: 'labels' } },
    ],
    edges: [
      { from: 'input', to: 'encoder' },
      { from: 'encoder', to: 'bottleneck' },
      { from: 'bottleneck', to: 'decoder' },
      { from: 'decoder', to: 'reshape' },
      { from: 'reshape', to: 'decoder2' },
      { from: 'decoder2', to: 'reconstruction' },
      { from: 'bottleneck', to: 'head' },
      { from: 'head', to: 'labels' },
    ],
  },
  'batch norm, trained': chainGraph(
    [
      { id: 'c', type: 'Conv2D', params: { filters: 3, kernelSize: 3, activation: 'relu' } },
      { id: 'bn', type: 'BatchNormalization', params: { momentum: 0.8 } },
      { id: 'f', type: 'Flatten' },
      { id: 'd', type: 'Dense', params: { units: 5, activation: 'linear' } },
      { id: 'bn2', type: 'BatchNormalization' },
      { id: 'd2', type: 'Dense', params: { units: 50, activation: 'sigmoid' } },
      { id: 'r', type: 'Reshape', params: { targetShape: [5, 5, 2] } },
    ],
    { input: [5, 5, 2] },
  ),
};


export interface WeightEntry {
  readonly name: string;
  readonly shape: number[];
  readonly values: Float32Array;
}

/** Random weights for every layer (biases and batch-norm statistics too, so none of them is a trivial 0 or 1), set into the tfjs layers. */
export function randomizeWeights(compiled: ReturnType<typeof compileGraph>, seed: number): WeightEntry[] {
  const rng = mulberry32(seed);
  const entries: WeightEntry[] = [];
  for (const layers of compiled.layersByNode.values()) {
    for (const layer of layers) {
      const values = layer.getWeights().map((w, i) => {
        const kind = layer.weights[i]!.originalName;
        const n = w.size;
        const v = Float32Array.from({ length: n }, () => {
          const u = rng();
          if (/moving_variance|gamma/.test(kind)) return 0.5 + u;
          if (/bias|beta|moving_mean/.test(kind)) return (u - 0.5) * 0.4;
          return (u * 2 - 1) * Math.sqrt(3 / Math.max(1, w.shape.slice(0, -1).reduce((a, b) => a * b, 1)));
        });
        entries.push({ name: `layer/${layer.name}/${i}`, shape: [...w.shape], values: v });
        return tf.tensor(v, w.shape);
      });
      if (values.length) layer.setWeights(values);
      tf.dispose(values);
    }
  }
  return entries;
}

