#!/usr/bin/env node
// `npm start`: build when the sources changed since the last build, then train the dense
// autoencoder sample on the embedded MNIST for a few epochs (progress bar, run folder in .latent/runs).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'dist', 'cli.js');

function newestMtime(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return fs.readdirSync(p).reduce((m, f) => Math.max(m, newestMtime(path.join(p, f))), st.mtimeMs);
}

const sources = ['src', 'webview', 'package.json', 'webpack.config.js'].map((p) => path.join(root, p));
const stale = !fs.existsSync(built) || Math.max(...sources.map(newestMtime)) > fs.statSync(built).mtimeMs;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (stale) run(npm, ['run', 'build']);

const args = process.argv.slice(2);
const graph = path.join(root, 'samples', 'dense-autoencoder.latent.json');
run(process.execPath, [built, 'train', graph, '--epochs', '5', ...args]);
