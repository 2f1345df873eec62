/** Shared test helpers: sample graphs and small graph builders. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SAMPLES_DIR = path.join(ROOT, 'samples');

export function sampleText(name: string): string {
  return fs.readFileSync(path.join(SAMPLES_DIR, `${name}.latent.json`), 'utf8');
}

export function sample(name: string): Record<string, unknown> {
  return JSON.parse(sampleText(name)) as Record<string, unknown>;
}

export const SAMPLE_NAMES = fs
  .readdirSync(SAMPLES_DIR)
  .filter((f) => f.endsWith('.latent.json'))
  .map((f) => f.replace(/\.latent\.json$/, ''))
  .sort();

/** A minimal valid graph: Input → given middle nodes (chained) → Output. */
export function chainGraph(
  nodes: { id: string; type: string; params?: Record<string, unknown> }[],
  opts: { input?: number[]; target?: 'input' | 'labels'; training?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const all = [
    { id: 'input', type: 'Input', params: { shape: opts.input ?? [784] } },
    ...nodes,
    { id: 'out', type: 'Output', params: { target: opts.target ?? 'input' } },
  ];
  return {
    formatVersion: 1,
    name: 'test graph',
    nodes: all,
    edges: all.slice(1).map((n, i) => ({ from: all[i]!.id, to: n.id })),
    training: opts.training ?? {},
  };
}
