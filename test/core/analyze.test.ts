import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph, isDenoising, variationalBottleneck } from '../../src/core/analyze';
import { getBlock } from '../../src/core/catalog';
import { summarize } from '../../src/core/summary';
import { chainGraph, sample } from '../helpers/samples';

/**
 * Parameter counts of each tutorial's model as Keras' model.summary() prints them, written out
 * layer by layer (Dense: in*out + out; Conv2D: kh*kw*cin*filters + filters).
 */
const KERAS_COUNTS: Record<string, { total: number; layers?: number[] }> = {
  // seed 000: 784-128-64-32-16-64-128-784
  'dense-autoencoder': { total: 221_888, layers: [100_480, 8_256, 2_080, 528, 1_088, 8_320, 101_136] },
  // seed 000: the autoencoder plus Dense(10, softmax) on the 16-number code
  'autoencoder-classifier': { total: 221_888 + 170 },
  // seed 001: Dense(32) + Dense(784)
  'simple-autoencoder': { total: 50_992, layers: [25_120, 25_872] },
  // seed 001: 784-128-64-10
  'stacked-autoencoder': { total: 109_386, layers: [100_480, 8_256, 650] },
  // seed 001: Conv2D 32 / MaxPool / Conv2D 32 / UpSampling / Conv2D 1
  'conv-autoencoder': { total: 9_857, layers: [320, 0, 9_248, 0, 289] },
  // seed 002: 784-784-256-128 encoder, 128-256-784 decoder
  'deep-autoencoder': { total: 1_100_320, layers: [615_440, 200_960, 32_896, 16_512, 33_024, 201_488] },
  // seed 003: Fashion-MNIST conv autoencoder
  'fashion-conv-autoencoder': { total: 3_805, layers: [160, 0, 1_160, 0, 292, 0, 296, 0, 584, 0, 1_168, 0, 145] },
  // seed 000's dense autoencoder with GaussianNoise after the Input: 784-128-64-32-64-128-784
  'denoising-autoencoder': { total: 222_384, layers: [0, 100_480, 8_256, 2_080, 2_112, 8_320, 101_136] },
  // Keras' variational_autoencoder.py: Dense 512, z_mean (2), z_log_var (2), Lambda sampling; decoder 512, 784
  'variational-autoencoder': { total: 807_700, layers: [401_920, 1_026, 1_026, 0, 1_536, 402_192] },
};

for (const [name, expected] of Object.entries(KERAS_COUNTS)) {
  test(`${name}: validates and its parameter count equals Keras' (${expected.total})`, () => {
    const a = analyzeGraph(sample(name));
    assert.deepEqual(a.problems, []);
    assert.equal(a.ok, true);
    assert.equal(a.totals.params, expected.total);
    if (expected.layers) {
      const layers = summarize(a).layers.filter((l) => l.type !== 'InputLayer');
      assert.deepEqual(layers.map((l) => l.params), expected.layers);
    }
  });
}

test('seed 003 conv autoencoder has a 4x4x4 bottleneck and a 28x28x1 output', () => {
  const a = analyzeGraph(sample('fashion-conv-autoencoder'));
  assert.deepEqual(a.nodes.get('bottleneck')!.outputShape, [4, 4, 4]);
  assert.deepEqual(a.nodes.get('decoder')!.outputShape, [28, 28, 1]);
  // The valid-padded conv shrinks 16x16 to 14x14 so upsampling lands on 28 (as in the tutorial).
  const shapes = a.nodes.get('decoder')!.layers.map((l) => l.outputShape.join('x'));
  assert.deepEqual(shapes, ['4x4x8', '8x8x8', '8x8x8', '16x16x8', '14x14x16', '28x28x16', '28x28x1']);
});

test('named sub-models: encoder ends at the bottleneck, decoder starts there, classifier at the head', () => {
  const a = analyzeGraph(sample('autoencoder-classifier'));
  const byName = Object.fromEntries(a.models.map((m) => [m.name, `${m.from}->${m.to}`]));
  assert.deepEqual(byName, {
    autoencoder: 'input->decoder',
    encoder: 'input->bottleneck',
    decoder: 'bottleneck->decoder',
    classifier: 'input->head',
  });
});

test('frozen blocks count as non-trainable, like Keras', () => {
  const doc = sample('dense-autoencoder');
  (doc.nodes as { id: string; trainable?: boolean }[]).find((n) => n.id === 'encoder')!.trainable = false;
  const a = analyzeGraph(doc);
  assert.equal(a.totals.params, 221_888);
  assert.equal(a.totals.nonTrainableParams, 100_480 + 8_256 + 2_080);
  assert.equal(a.totals.trainableParams, 221_888 - 110_816);
});

test('BatchNormalization: 2 trainable + 2 non-trainable parameters per channel', () => {
  const a = analyzeGraph(chainGraph([{ id: 'd', type: 'Dense', params: { units: 784 } }, { id: 'bn', type: 'BatchNormalization' }]));
  assert.equal(a.ok, true, JSON.stringify(a.problems));
  const bn = a.nodes.get('bn')!;
  assert.equal(bn.trainableParams, 2 * 784);
  assert.equal(bn.nonTrainableParams, 2 * 784);
});

test('Conv2DTranspose and valid-padding shapes follow Keras', () => {
  const a = analyzeGraph(
    chainGraph(
      [
        { id: 'c', type: 'Conv2D', params: { filters: 4, kernelSize: 5, padding: 'valid' } }, // 24x24x4
        { id: 'p', type: 'MaxPooling2D', params: { poolSize: 2 } }, // 12x12x4 (valid)
        { id: 't', type: 'Conv2DTranspose', params: { filters: 2, kernelSize: 3, strides: 2, padding: 'valid' } }, // 25x25x2
        { id: 't2', type: 'Conv2DTranspose', params: { filters: 1, kernelSize: 4, strides: 1, padding: 'valid' } }, // 28x28x1
      ],
      { input: [28, 28, 1] },
    ),
  );
  assert.equal(a.ok, true, JSON.stringify(a.problems));
  assert.deepEqual(a.nodes.get('c')!.outputShape, [24, 24, 4]);
  assert.deepEqual(a.nodes.get('p')!.outputShape, [12, 12, 4]);
  assert.deepEqual(a.nodes.get('t')!.outputShape, [25, 25, 2]);
  assert.deepEqual(a.nodes.get('t2')!.outputShape, [28, 28, 1]);
  assert.equal(a.nodes.get('t')!.paramCount, 3 * 3 * 4 * 2 + 2);
});

function messages(raw: unknown): string[] {
  return analyzeGraph(raw).problems.map((p) => `${p.severity}|${p.nodeId ?? ''}|${p.message}`);
}

test('shape mismatch at the Output says what to add', () => {
  const doc = chainGraph(
    [
      { id: 'enc', type: 'Encoder', params: { stages: [{ kind: 'dense', units: 32 }] } },
      { id: 'dec', type: 'Decoder', params: { stages: [{ kind: 'dense', units: 784, activation: 'sigmoid' }] } },
      { id: 'reshape', type: 'Reshape', params: { targetShape: [28, 28, 1] } },
    ],
    { input: [784] },
  );
  const a = analyzeGraph(doc);
  const p = a.problems.find((x) => x.nodeId === 'out');
  assert.ok(p, JSON.stringify(a.problems));
  assert.equal(p.message, 'Reshape "reshape" outputs 28x28x1 but the loss compares it with the 784-vector input: add a Reshape to 784 before "out".');
});

test('every problem is reported at once, each with its node', () => {
  const doc = {
    formatVersion: 1,
    name: 'broken',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [784] } },
      { id: 'a', type: 'Dense', params: { units: -3 } },
      { id: 'b', type: 'Dens', params: { units: 10 } },
      { id: 'c', type: 'Dense', params: { units: 'many' } },
      { id: 'd', type: 'Dense', params: { units: 8 } },
      { id: 'e', type: 'Dense', params: { units: 8 } },
      { id: 'f', type: 'Dense', params: { units: 8 } },
    ],
    edges: [
      { from: 'input', to: 'a' },
      { from: 'input', to: 'd' },
      { from: 'a', to: 'd' },
      { from: 'e', to: 'f' },
      { from: 'f', to: 'e' },
      { from: 'd', to: 'ghost' },
    ],
  };
  const m = messages(doc);
  const has = (re: RegExp, node?: string): void =>
    assert.ok(m.some((x) => re.test(x) && (node === undefined || x.split('|')[1] === node)), `expected ${re} on ${node}; got:\n${m.join('\n')}`);
  has(/"units": must be at least 1/, 'a');
  has(/Unknown block type "Dens": did you mean "Dense"\?/, 'b');
  has(/"units": must be a number/, 'c');
  has(/takes one input but 2 blocks connect to it \(input, a\)/, 'd');
  has(/Blocks (e → f → e|f → e → f) form a cycle/);
  has(/points at "ghost", which is not a block/);
  has(/no Output block/);
  has(/has no input: connect a block to it/, 'c');
  assert.ok(m.length >= 8);
});

test('missing Input, second Input, edges into Input, Output with outgoing edges', () => {
  const m = messages({
    formatVersion: 1,
    name: 'x',
    nodes: [
      { id: 'i1', type: 'Input', params: { shape: [784] } },
      { id: 'i2', type: 'Input', params: { shape: [784] } },
      { id: 'o', type: 'Output' },
      { id: 'd', type: 'Dense', params: { units: 784 } },
    ],
    edges: [
      { from: 'i1', to: 'o' },
      { from: 'o', to: 'd' },
      { from: 'd', to: 'i2' },
    ],
  }).join('\n');
  assert.match(m, /Only one Input block is supported; "i2"/);
  assert.match(m, /Input "i2" cannot receive edges \(from d\)/);
  assert.match(m, /Output "o" is the end of the model/);
  assert.match(messages({ formatVersion: 1, name: 'x', nodes: [], edges: [] }).join('\n'), /no Input block/);
});

test('conv stage after a flat vector asks for a Reshape; valid conv that cannot fit is explained', () => {
  const m1 = messages(chainGraph([{ id: 'enc', type: 'Encoder', params: { stages: [{ kind: 'conv', filters: 8 }] } }])).join('\n');
  assert.match(m1, /Encoder stage 1 is a conv stage but receives the 784-vector: add a Reshape before it/);
  const m2 = messages(chainGraph([{ id: 'c', type: 'Conv2D', params: { filters: 8, kernelSize: 9, padding: 'valid' } }], { input: [4, 4, 1] })).join('\n');
  assert.match(m2, /Conv2D with a 9x9 kernel and "valid" padding cannot shrink a 4x4 input/);
  const m3 = messages(chainGraph([{ id: 'r', type: 'Reshape', params: { targetShape: [27, 27, 1] } }])).join('\n');
  assert.match(m3, /Reshape to 27x27x1 needs 729 values but receives 784: pick a target shape/);
});

test('labels output: wrong class count for the dataset and non-vector outputs', () => {
  const doc = chainGraph([{ id: 'head', type: 'ClassifierHead', params: { classes: 5 } }], {
    target: 'labels',
    training: { loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
  });
  assert.equal(analyzeGraph(doc).ok, true);
  const a = analyzeGraph(doc, { numClasses: 10 });
  assert.match(a.problems.map((p) => p.message).join('\n'), /predicts 5 classes but the dataset has 10/);
});

test('training section: unknown output, wrong loss for a reconstruction, bad dataset, unknown freeze', () => {
  const doc = chainGraph([{ id: 'd', type: 'Dense', params: { units: 784, activation: 'sigmoid' } }], {
    training: {
      dataset: 'cifar',
      loss: 'categoricalCrossentropy',
      stages: [{ name: 's1', output: 'd', freeze: ['nope'] }, { name: 's2', kind: 'layerwise' }],
    },
  });
  const m = messages(doc).join('\n');
  assert.match(m, /Unknown dataset "cifar"/);
  assert.match(m, /"d" is a Dense, not an Output block/);
  assert.match(m, /Stage "s2" pretrains layer by layer and needs "encoder"/);
  const doc2 = chainGraph([{ id: 'd', type: 'Dense', params: { units: 784 } }], {
    training: { loss: 'categoricalCrossentropy', stages: [{ name: 's1', freeze: ['nope'] }] },
  });
  const m2 = messages(doc2).join('\n');
  assert.match(m2, /trains the reconstruction "out" with categoricalCrossentropy/);
  assert.match(m2, /freezes "nope", which is not a block/);
});

test('malformed envelopes are problems, not exceptions', () => {
  for (const raw of [null, 42, 'text', [], { formatVersion: 'one' }, { formatVersion: 1, name: 'x', nodes: 'no' }, { formatVersion: 1, name: 'x', nodes: [null, 3, { id: '1bad', type: 'Dense' }] }]) {
    const a = analyzeGraph(raw);
    assert.equal(a.ok, false);
    assert.ok(a.problems.length > 0);
    for (const p of a.problems) assert.ok(p.message.length > 10 && !/undefined|\[object/.test(p.message), p.message);
  }
  const m = messages({ formatVersion: 1, name: 'x', nodes: [{ id: '1bad', type: 'Dense', extra: true }] }).join('\n');
  assert.match(m, /Node ids start with a letter/);
  assert.match(m, /unknown field\(s\) "extra"/);
});

test('a block that reaches no Output is a warning, not an error', () => {
  const doc = chainGraph([{ id: 'd', type: 'Dense', params: { units: 784 } }]);
  (doc.nodes as unknown[]).push({ id: 'stray', type: 'Dense', params: { units: 3 } });
  (doc.edges as unknown[]).push({ from: 'input', to: 'stray' });
  const a = analyzeGraph(doc);
  assert.equal(a.ok, true);
  assert.deepEqual(a.problems.map((p) => [p.severity, p.nodeId]), [['warning', 'stray']]);
});

test('Noise block: no parameters, shapes pass through; gaussian is a GaussianNoise layer, masking a MaskingNoise layer', () => {
  for (const input of [[784], [28, 28, 1]]) {
    for (const [params, className] of [[{ mode: 'gaussian', stddev: 0.3 }, 'GaussianNoise'], [{ mode: 'masking', rate: 0.25 }, 'MaskingNoise'], [{}, 'GaussianNoise']] as const) {
      const a = analyzeGraph(chainGraph([{ id: 'noise', type: 'Noise', params }], { input }));
      assert.equal(a.ok, true, JSON.stringify(a.problems));
      const noise = a.nodes.get('noise')!;
      assert.deepEqual(noise.outputShape, input);
      assert.equal(noise.paramCount, 0);
      assert.deepEqual(noise.layers.map((l) => l.className), [className]);
      assert.equal(isDenoising(a), true);
    }
  }
  assert.deepEqual(analyzeGraph(chainGraph([{ id: 'noise', type: 'Noise' }])).nodes.get('noise')!.params, { mode: 'gaussian', stddev: 0.5, rate: 0.3 });
  // The inspector hides what the mode does not use.
  assert.deepEqual(getBlock('Noise')!.inapplicable!({ mode: 'masking' }), ['stddev']);
  assert.deepEqual(getBlock('Noise')!.inapplicable!({}), ['rate']);
  assert.deepEqual(getBlock('Bottleneck')!.inapplicable!({ variational: true }), ['activation']);
  assert.deepEqual(getBlock('Bottleneck')!.inapplicable!({ latentSize: 16 }), ['klWeight']);
  assert.equal(isDenoising(analyzeGraph(sample('dense-autoencoder'))), false);
  assert.match(messages(chainGraph([{ id: 'noise', type: 'Noise', params: { mode: 'salt' } }])).join('\n'), /Noise "noise": "mode": must be one of "gaussian", "masking"/);
  assert.match(messages(chainGraph([{ id: 'noise', type: 'Noise', params: { mode: 'masking', rate: 1 } }])).join('\n'), /"rate": must be at most 0.95/);
});

test('variational Bottleneck: z_mean, z_log_var and z rows as in Keras, 2 x (in * latent + latent) parameters', () => {
  for (const [input, flatIn] of [[[64], 64], [[7, 7, 4], 196]] as const) {
    const a = analyzeGraph(
      chainGraph(
        [
          { id: 'bottleneck', type: 'Bottleneck', params: { latentSize: 3, variational: true } },
          { id: 'decoder', type: 'Decoder', params: { stages: [{ kind: 'dense', units: flatIn, activation: 'sigmoid' }] } },
          ...(input.length > 1 ? [{ id: 'reshape', type: 'Reshape', params: { targetShape: [...input] } }] : []),
        ],
        { input: [...input] },
      ),
    );
    assert.equal(a.ok, true, JSON.stringify(a.problems));
    const b = a.nodes.get('bottleneck')!;
    assert.deepEqual(b.outputShape, [3]);
    assert.equal(b.paramCount, 2 * (flatIn * 3 + 3));
    const rows = summarize(a).layers.filter((l) => l.node === 'bottleneck').map((l) => `${l.name} ${l.type} ${l.outputShape.join('x')} ${l.params}`);
    assert.deepEqual(rows, [
      ...(input.length > 1 ? [`bottleneck.flatten Flatten x${flatIn} 0`] : []),
      `bottleneck.z_mean Dense x3 ${flatIn * 3 + 3}`,
      `bottleneck.z_log_var Dense x3 ${flatIn * 3 + 3}`,
      'bottleneck.z Sampling x3 0',
    ]);
    // z_mean and z_log_var both read the block's input (or its flattening); z reads both.
    const base = input.length > 1 ? 0 : -1;
    assert.deepEqual(b.layers.map((l) => l.from), [...(input.length > 1 ? [undefined] : []), undefined, [base], [base + 1, base + 2]]);
    assert.ok(b.layers.filter((l) => l.className === 'Dense').every((l) => l.spec.kind === 'dense' && l.spec.activation === 'linear'));
    assert.equal(variationalBottleneck(a)?.id, 'bottleneck');
    assert.equal(a.models.find((m) => m.name === 'decoder')?.from, 'bottleneck');
  }
  const defaults = analyzeGraph(sample('dense-autoencoder')).nodes.get('bottleneck')!.params;
  assert.deepEqual(defaults, { latentSize: 16, activation: 'relu', variational: false, klWeight: 1 });
  assert.equal(variationalBottleneck(analyzeGraph(sample('dense-autoencoder'))), undefined);
  const noSize = messages(chainGraph([{ id: 'b', type: 'Bottleneck', params: { variational: true } }, { id: 'd', type: 'Dense', params: { units: 784 } }]));
  assert.ok(noSize.includes('error|b|A variational Bottleneck needs a latentSize: the width of z_mean, z_log_var and the sampled code z.'), noSize.join('\n'));
});
