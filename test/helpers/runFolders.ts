/** Run folders written the way an engine writes them, for tests of the readers (run store, panel snapshot, corrupt files). */
import type { RunConfigInput, RunJsonInput, RunJsonKind } from '../../src/core/runFormat';

/** A valid config.json for `graphFile`, one fit stage per entry of `epochs`. */
export function fakeRunConfig(graphFile: string, epochs: readonly number[] = [3], extra: Partial<RunConfigInput> = {}): RunConfigInput {
  return {
    graphFile,
    graphSha256: '0'.repeat(64),
    graphName: 'test graph',
    seed: 42,
    dataset: { spec: 'mnist', source: 'MNIST', count: 10000, skipped: 0, shape: [28, 28, 1], kind: 'image' },
    split: { train: 7000, validation: 1000, test: 2000 },
    stages: epochs.map((e, i) => ({
      name: `s${i}`,
      kind: 'fit',
      outputId: 'reconstruction',
      target: 'input',
      loss: 'binaryCrossentropy',
      optimizer: 'adadelta',
      learningRate: 1,
      epochs: e,
      batchSize: 256,
      metrics: [],
      freeze: [],
    })),
    backend: { name: 'wasm', tfBackend: 'wasm', detail: 'SIMD on', skipped: [] },
    versions: { tfjs: '4.22.0' },
    startedAt: '2026-11-20T10:00:00.000Z',
    ...extra,
  };
}

/** A valid value for every JSON file of a run folder (the schemas' shapes, small), keyed as RUN_JSON_FILES. */
export function fakeRunFiles(runDir: string, graphFile: string): { [K in RunJsonKind]: RunJsonInput<K> } {
  const at = '2026-11-20T10:00:00.000Z';
  const where = { runDir, stage: 's0', outputId: 'reconstruction', backend: 'wasm', at };
  return {
    status: { runFormatVersion: 1, status: 'completed', graphName: 'test graph', startedAt: at, endedAt: at, backend: 'wasm', epochsCompleted: 3, bestValLoss: 0.1 },
    config: fakeRunConfig(graphFile),
    confusion: {
      stage: 'classifier', stageIndex: 1, epoch: 2, outputId: 'classes', split: 'validation', samples: 4,
      classNames: ['0', '1'], confusion: [[2, 0], [1, 1]], labels: [0, 1], predicted: [0, 0], confidence: [0.9, 0.6],
    },
    evaluation: {
      runDir, split: 'test', dataset: 'MNIST', samples: 2000, stage: 's0', outputId: 'reconstruction', target: 'input',
      lossName: 'binaryCrossentropy', loss: 0.1, metrics: {}, backend: 'wasm', evaluatedAt: at,
    },
    pretraining: { stage: 'pretrain', outputId: 'classes', before: { valLoss: 0.5, valAccuracy: 0.8, testLoss: 0.5, testAccuracy: 0.8 }, after: { testLoss: 0.3, testAccuracy: 0.9 } },
    anomaly: {
      kind: 'score', ...where, split: 'test', dataset: 'MNIST', metric: 'meanSquaredError', indices: [5, 9], positions: [0, 1], scores: [0.01, 0.2],
      labels: [0, 7], classNames: ['0', '7'], trainedClasses: [0], threshold: 0.1, thresholdRule: 'the 99th percentile', worst: [{ index: 9, position: 1, score: 0.2, label: 7 }],
      worstPngBase64: '', csvFile: `${runDir}/scores.csv`,
    },
    checkpoint: {
      format: 1, stageIndex: 0, stageName: 's0', stageEpoch: 3, stageEpochs: 3, epochsCompleted: 3, bestValLoss: 0.1, graphSha256: '0'.repeat(64), savedAt: at,
      backend: 'wasm', optimizer: 'adadelta', rngState: 7, trainSamples: 10, weightsFile: 'weights-3-abcd.bin', weightsBytes: 40, weightsSha256: '1'.repeat(64),
      weights: [{ name: 'state/order', shape: [10], dtype: 'int32' }],
    },
    normalization: { method: 'standard', shift: [0.5, 2], div: [1.5, 0.25] },
  };
}
