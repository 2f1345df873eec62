/**
 * The layering is checked, not remembered: ESLint (eslint.config.mjs) refuses imports that run
 * against the arrows, and the extension and CLI bundles carry no TensorFlow.js.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/samples';

const eslint = new ESLint({ cwd: ROOT });

/** The rule ids ESLint reports for `code` placed at `file` (a path in the repository). */
async function ruleIds(code: string, file: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

test('imports against the arrows fail lint, naming the rule and why', async () => {
  const cases: [string, string, RegExp][] = [
    ['src/core/x.ts', "import { train } from '../train/trainer';\nexport const t = train;\n", /no-restricted-paths: .*src\/core is pure/],
    ['src/core/x.ts', "import * as fs from 'node:fs';\nexport const f = fs;\n", /no-restricted-imports: .*without Node/],
    ['src/core/x.ts', "import * as tf from '@tensorflow/tfjs';\nexport const v = tf.version;\n", /no-restricted-imports: .*TensorFlow\.js/],
    ['src/run/x.ts', "import { selectBackend } from '../backend/select';\nexport const s = selectBackend;\n", /no-restricted-paths: .*src\/run is host-safe/],
    ['src/extension/x.ts', "import { compileGraph } from '../compile/compile';\nexport const c = compileGraph;\n", /no-restricted-paths: .*src\/extension is host-safe/],
    ['src/cli/x.ts', "import * as tf from '@tensorflow/tfjs';\nexport const v = tf.version;\n", /no-restricted-imports: .*TensorFlow\.js/],
    ['src/extension/x.ts', "import * as vscode from 'vscode';\nvoid vscode.window.showErrorMessage('It failed');\n", /no-restricted-syntax: .*offers Show Output/],
    ['src/compile/x.ts', "import { train } from '../train/trainer';\nexport const t = train;\n", /no-restricted-paths: .*never the training loop/],
    ['src/train/x.ts', "import * as tf from '@tensorflow/tfjs';\nexport const v = tf.version;\n", /no-restricted-imports: .*umbrella package/],
    ['src/import/x.ts', "import { readRun } from '../run/runStore';\nexport const r = readRun;\n", /no-restricted-paths: .*src\/import turns other formats/],
    ['src/backend/x.ts', "import { compileGraph } from '../compile/compile';\nexport const c = compileGraph;\n", /no-restricted-paths: .*src\/backend sits below/],
    ['webview/editor/x.ts', "import { listRuns } from '../../src/run/runStore';\nexport const l = listRuns;\n", /no-restricted-paths: .*webviews run in a browser/],
  ];
  for (const [file, code, expected] of cases) {
    const found = await ruleIds(code, file);
    assert.ok(found.some((m) => expected.test(m)), `${file}: ${code.split('\n')[0]} → ${found.join(' | ') || 'no error'}`);
  }
});

test('the same imports in the direction of the arrows pass', async () => {
  const fine: [string, string][] = [
    ['src/train/x.ts', "import { compileGraph } from '../compile/compile';\nimport { selectBackend } from '../backend/select';\nimport { readRunJson } from '../run/runFolder';\nexport const a = [compileGraph, selectBackend, readRunJson];\n"],
    ['src/compile/x.ts', "import { constant } from '../backend/constants';\nexport const c = constant;\n"],
    ['src/run/x.ts', "import { RUN_FILES } from '../core/runFormat';\nexport const f = RUN_FILES;\n"],
    ['webview/panel/x.ts', "import { RUN_FILES } from '../../src/core/runFormat';\nexport const f = RUN_FILES;\n"],
  ];
  for (const [file, code] of fine) assert.deepEqual(await ruleIds(code, file), [], file);
});

/** Strings that only tfjs-core's code holds (its error messages); the worker bundle is the control. */
const TFJS_MARKERS = ['Backend name \'', 'The kernel \'', 'numDataIds'];

test('dist/extension.js and dist/cli.js carry no TensorFlow.js; dist/worker.js does', () => {
  const read = (name: string): string => {
    const file = path.join(ROOT, 'dist', name);
    assert.ok(fs.existsSync(file), `${file} is missing: run \`npm run build\` first`);
    return fs.readFileSync(file, 'utf8');
  };
  const worker = read('worker.js');
  for (const marker of TFJS_MARKERS) assert.ok(worker.includes(marker), `the control: ${marker} is in the worker`);
  for (const bundle of ['extension.js', 'cli.js']) {
    const text = read(bundle);
    for (const marker of TFJS_MARKERS) assert.ok(!text.includes(marker), `${bundle} holds tfjs code (${marker})`);
  }
});

test('TensorFlow.js comes as its parts, pinned exactly, and the worker bundle carries no WebGL backend or node-fetch', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const tfjs = Object.entries(pkg.dependencies).filter(([name]) => name.startsWith('@tensorflow/'));
  assert.deepEqual(
    tfjs.map(([name]) => name).sort(),
    ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'],
  );
  for (const [name, range] of tfjs) assert.match(range, /^\d+\.\d+\.\d+$/, `${name} is pinned to one version (our kernels read backend internals), not "${range}"`);
  assert.equal(new Set(tfjs.map(([, v]) => v)).size, 1, 'every tfjs package at the same version');
  const worker = fs.readFileSync(path.join(ROOT, 'dist', 'worker.js'), 'utf8');
  // WEBGL_VERSION is the WebGL backend's flag; node-fetch is the umbrella's route to HTTP model loading.
  for (const marker of ['WEBGL_VERSION', 'webgl2', 'node-fetch']) assert.ok(!worker.includes(marker), `dist/worker.js holds ${marker}`);
});
