/**
 * A graph whose validation loss is Infinity before it trains, the same for both engines: raw values
 * of 1e20 (normalize "unit" keeps them) through a linear Dense overflow float32 once squared (MSE).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes `overflowing.csv` and `overflows.latent.json` into `dir`; returns the graph file. */
export function writeOverflowingGraph(dir: string): string {
  fs.writeFileSync(path.join(dir, 'overflowing.csv'), `a,b\n${'1e20,1e20\n'.repeat(120)}`);
  const graph = {
    formatVersion: 1,
    name: 'overflows',
    nodes: [
      { id: 'input', type: 'Input', params: { shape: [2] } },
      { id: 'd', type: 'Dense', params: { units: 2, activation: 'linear' } },
      { id: 'out', type: 'Output', params: { target: 'input' } },
    ],
    edges: [
      { from: 'input', to: 'd' },
      { from: 'd', to: 'out' },
    ],
    training: { dataset: 'csv:overflowing.csv', normalize: 'unit', loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 0.01, epochs: 2, batchSize: 16 },
  };
  const file = path.join(dir, 'overflows.latent.json');
  fs.writeFileSync(file, JSON.stringify(graph));
  return file;
}

/** The sentence both engines stop with on it. */
export const OVERFLOW_SENTENCE = /The validation loss is Infinity in stage "train" before it trains: check the data/;
