import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeGraph } from '../../src/core/analyze';
import { z } from 'zod';
import { type StageParamsInput, StageParamsSchema } from '../../src/core/catalog';
import { mirrorStages, stackOutputShape } from '../../src/core/mirror';
import type { Shape } from '../../src/core/shape';
import { chainGraph, sample } from '../helpers/samples';

type Stages = StageParamsInput[];

/** An Encoder's stages from a sample, checked by the catalog's schema (defaults filled in). */
function stagesOf(doc: Record<string, unknown>, id: string): Stages {
  return z.array(StageParamsSchema).parse(analyzeGraph(doc).nodes.get(id)?.params?.stages);
}

function mirrored(stages: Stages, input: Shape, opts: Parameters<typeof mirrorStages>[2] = {}): { stages: Stages; reshapeTo?: Shape } {
  const r = mirrorStages(stages, input, opts);
  if ('error' in r) assert.fail(r.error);
  return r;
}

/** Input → Encoder (→ Bottleneck) → Decoder (→ Reshape) → Output, analyzed. */
function fullGraph(input: Shape, encoder: Stages, decoder: Stages, extra: { bottleneck?: Record<string, unknown>; reshapeTo?: Shape } = {}) {
  return analyzeGraph(
    chainGraph(
      [
        { id: 'enc', type: 'Encoder', params: { stages: encoder } },
        ...(extra.bottleneck ? [{ id: 'code', type: 'Bottleneck', params: extra.bottleneck }] : []),
        { id: 'dec', type: 'Decoder', params: { stages: decoder } },
        ...(extra.reshapeTo ? [{ id: 'reshape', type: 'Reshape', params: { targetShape: [...extra.reshapeTo] } }] : []),
      ],
      { input: [...input] },
    ),
  );
}

type ConvInput = Extract<StageParamsInput, { kind: 'conv' }>;
const conv = (filters: number, more: Partial<ConvInput> = {}): ConvInput => ({
  kind: 'conv',
  filters,
  kernelSize: 3,
  padding: 'same',
  activation: 'relu',
  pool: 2,
  poolPadding: 'same',
  ...more,
});

test('dense sample: the encoder mirrors to 32-64-128-784 when the Bottleneck code follows, with symmetric weights', () => {
  const doc = sample('dense-autoencoder');
  const encoder = stagesOf(doc, 'encoder');
  const r = mirrored(encoder, [784], { codeFollows: true });
  assert.deepEqual(
    r.stages.map((s) => (s.kind === 'dense' ? [s.units, s.activation] : s.kind)),
    [[32, 'relu'], [64, 'relu'], [128, 'relu'], [784, 'sigmoid']],
  );
  assert.equal(r.reshapeTo, undefined);
  const a = fullGraph([784], encoder, r.stages, { bottleneck: { latentSize: 16, activation: 'relu' } });
  assert.deepEqual(a.problems, []);
  assert.deepEqual(a.nodes.get('dec')!.outputShape, [784]);
  // Kernels (params minus biases) of the decoder are the encoder's in reverse: 784x128 ... 32x16 and 16x32 ... 128x784.
  const weights = (id: string): number[] => a.nodes.get(id)!.layers.map((l) => l.params - (l.spec.kind === 'dense' ? l.spec.units : 0));
  const down = [...weights('enc'), ...weights('code')];
  assert.deepEqual(weights('dec'), [...down].reverse());
  assert.deepEqual(down, [784 * 128, 128 * 64, 64 * 32, 32 * 16]);
});

test('dense mirror without a code layer: the last encoder stage is the code', () => {
  const r = mirrored(
    [
      { kind: 'dense', units: 128, activation: 'relu' },
      { kind: 'dense', units: 64, activation: 'tanh' },
      { kind: 'dense', units: 32, activation: 'relu' },
    ],
    [784],
  );
  assert.deepEqual(r.stages, [
    { kind: 'dense', units: 64, activation: 'tanh' },
    { kind: 'dense', units: 128, activation: 'relu' },
    { kind: 'dense', units: 784, activation: 'sigmoid' },
  ]);
});

test('dense mirror copies batch norm and dropout from the mirrored stage and honours outputActivation', () => {
  const r = mirrored(
    [
      { kind: 'dense', units: 256, batchNorm: true, dropout: 0.2 },
      { kind: 'dense', units: 64 },
    ],
    [784],
    { outputActivation: 'linear' },
  );
  assert.deepEqual(r.stages, [
    { kind: 'dense', units: 256, activation: 'relu', batchNorm: true, dropout: 0.2 },
    { kind: 'dense', units: 784, activation: 'linear' },
  ]);
});

test('seed 001 conv encoder ([conv 32 pool 2] on 28x28x1) mirrors to [conv 32 upsample 2, conv 1 sigmoid]', () => {
  const encoder = stagesOf(sample('conv-autoencoder'), 'encoder');
  const r = mirrored(encoder, [28, 28, 1]);
  assert.deepEqual(r.stages, [
    { kind: 'conv', filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', upsample: 2 },
    { kind: 'conv', filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' },
  ]);
  const a = fullGraph([28, 28, 1], encoder, r.stages);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(a.nodes.get('dec')!.outputShape, [28, 28, 1]);
  // Same layer count and the tutorial's parameters, except the last layer's sigmoid.
  assert.equal(a.totals.params, 9_857);
});

test('seed 003 encoder (16/8/4, pool 2 "same") mirrors to a decoder that ends at exactly 28x28x1', () => {
  const encoder = stagesOf(sample('fashion-conv-autoencoder'), 'encoder');
  const r = mirrored(encoder, [28, 28, 1]);
  const a = fullGraph([28, 28, 1], encoder, r.stages, { bottleneck: {} });
  assert.deepEqual(a.problems, []);
  assert.equal(a.ok, true);
  assert.deepEqual(a.nodes.get('code')!.outputShape, [4, 4, 4]);
  assert.deepEqual(a.nodes.get('dec')!.outputShape, [28, 28, 1]);
  // As in the tutorial: a "valid" conv trims 16x16 to 14x14 before the last upsampling.
  assert.deepEqual(
    r.stages.map((s) => (s.kind === 'conv' ? `${s.filters}/${s.padding}/${s.upsample ?? 1}` : s.kind)),
    ['4/same/2', '8/same/2', '16/valid/2', '1/same/1'],
  );
  const shapes = a.nodes.get('dec')!.layers.map((l) => l.outputShape.join('x'));
  assert.deepEqual(shapes, ['4x4x4', '8x8x4', '8x8x8', '16x16x8', '14x14x16', '28x28x16', '28x28x1']);
});

test('transpose mode mirrors conv + pool as transposed convs with strides = pool size, output 28x28x1', () => {
  for (const name of ['conv-autoencoder', 'fashion-conv-autoencoder']) {
    const encoder = stagesOf(sample(name), 'encoder');
    const r = mirrored(encoder, [28, 28, 1], { transpose: true });
    const transposed = r.stages.filter((s) => s.kind === 'convTranspose');
    assert.equal(transposed.length, encoder.length, name);
    for (const s of transposed) assert.equal(s.kind === 'convTranspose' && s.strides, 2, name);
    const last = r.stages[r.stages.length - 1]!;
    assert.equal(last.kind === 'conv' && last.filters, 1);
    const a = fullGraph([28, 28, 1], encoder, r.stages);
    assert.deepEqual(a.problems, [], name);
    assert.deepEqual(a.nodes.get('dec')!.outputShape, [28, 28, 1], name);
  }
});

test('transpose mode restores pixels that "valid" convs dropped; upsampling mode says it cannot', () => {
  const encoder = [conv(32, { padding: 'valid' })]; // 28 -> 26 -> 13
  const r = mirrorStages(encoder, [28, 28, 1]);
  assert.ok('error' in r);
  assert.match(r.error, /ends? at 26x26x1/);
  assert.match(r.error, /transposed convolutions/);
  const t = mirrored(encoder, [28, 28, 1], { transpose: true });
  const a = fullGraph([28, 28, 1], encoder, t.stages);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(a.nodes.get('dec')!.outputShape, [28, 28, 1]);
});

test('an encoder that flattens an image into dense stages gives reshapeTo the image shape', () => {
  const encoder: Stages = [
    { kind: 'dense', units: 128 },
    { kind: 'dense', units: 32 },
  ];
  const r = mirrored(encoder, [28, 28, 1]);
  assert.deepEqual(r.reshapeTo, [28, 28, 1]);
  assert.deepEqual(
    r.stages.map((s) => s.kind === 'dense' && s.units),
    [128, 784],
  );
  const a = fullGraph([28, 28, 1], encoder, r.stages, { reshapeTo: r.reshapeTo });
  assert.deepEqual(a.problems, []);
  assert.deepEqual(a.nodes.get('reshape')!.outputShape, [28, 28, 1]);
});

test('odd sizes over several stages and colour images still come back exactly', () => {
  for (const [input, stages, modes] of [
    [[100, 100, 3], [conv(8), conv(8), conv(8), conv(8)], [false]], // 100 50 25 13 7
    [[28, 28, 1], [conv(16, { pool: 1, strides: 2 }), conv(8)], [false, true]], // strided conv instead of pooling
    [[30, 20, 1], [conv(8), conv(4)], [false, true]], // 30x20 -> 15x10 -> 8x5
    [[28, 28, 1], [conv(8, { pool: 3 })], [false, true]], // 28 -> 10
  ] as [Shape, Stages, boolean[]][]) {
    for (const transpose of modes) {
      const r = mirrorStages(stages, input, { transpose });
      if ('error' in r) assert.fail(`${input.join('x')} transpose=${transpose}: ${r.error}`);
      const a = fullGraph(input, stages, r.stages);
      assert.deepEqual(a.problems, [], `${input.join('x')} transpose=${transpose}`);
      assert.deepEqual(a.nodes.get('dec')!.outputShape, input);
    }
  }
});

test('transposed convs only enlarge: when the overshoot is too big to crop at the end, the refusal says to use upsampling', () => {
  const r = mirrorStages([conv(8), conv(8), conv(8), conv(8)], [100, 100, 3], { transpose: true });
  assert.ok('error' in r);
  assert.match(r.error, /would end at 112x112x3/);
  assert.match(r.error, /mirror with upsampling instead/);
});

test('every mirror returned for random conv encoders analyzes to the input shape', () => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let returned = 0;
  for (let i = 0; i < 150; i++) {
    const size = 8 + rand(40);
    const input: Shape = [size, size + rand(3), 1 + rand(3)];
    const stages: Stages = Array.from({ length: 1 + rand(3) }, () =>
      conv(1 + rand(8), { kernelSize: 1 + rand(4), padding: rand(4) === 0 ? 'valid' : 'same', pool: 1 + rand(3), poolPadding: rand(3) === 0 ? 'valid' : 'same' }),
    );
    const transpose = rand(2) === 0;
    const r = mirrorStages(stages, input, { transpose });
    if ('error' in r) {
      assert.match(r.error, /[.!]$/, 'errors are sentences');
      continue;
    }
    returned++;
    const code = stackOutputShape('Encoder', stages, input);
    assert.ok(code.ok);
    const out = stackOutputShape('Decoder', r.stages, code.shape);
    assert.ok(out.ok && out.shape.join('x') === input.join('x'), JSON.stringify({ input, stages, transpose }));
  }
  assert.ok(returned > 100, `only ${returned} of 150 mirrored`);
});

test('mirror refusals are sentences', () => {
  const cases: [Stages, Shape, Parameters<typeof mirrorStages>[2], RegExp][] = [
    [[], [784], {}, /no stages/],
    [[conv(8)], [784], {}, /receives the 784-vector/],
    [[conv(8), { kind: 'dense', units: 32 }], [28, 28, 1], {}, /Reshape to 14x14x8/],
    [[conv(8)], [28, 28, 1], { codeFollows: true }, /dense code follows/],
    [[conv(8, { pool: 1, strides: [2, 1] })], [28, 28, 1], {}, /different factors/],
    [[{ kind: 'convTranspose', filters: 8 }], [14, 14, 1], {}, /enlarges the image/],
    [[{ kind: 'dense', units: 0 }], [784], {}, /stage 1 is not valid/],
    [[{ kind: 'dense', units: 8 }], [28, 28], {}, /neither a vector/],
  ];
  for (const [stages, input, opts, pattern] of cases) {
    const r = mirrorStages(stages, input, opts);
    assert.ok('error' in r, `expected an error for ${JSON.stringify(stages)}`);
    assert.match(r.error, pattern);
    assert.match(r.error, /[.]$/);
  }
  // Different factors are fine with transposed convs (strides may differ per axis).
  const t = mirrorStages([conv(8, { pool: 1, strides: [2, 1] })], [28, 28, 1], { transpose: true });
  assert.ok(!('error' in t));
});
