#!/usr/bin/env node
// `npm start`: build when the sources changed, then open a real VS Code with Latent Studio loaded on
// a workspace holding the samples. Desktop VS Code (`code` on PATH) gets --extensionDevelopmentPath;
// otherwise code-server (installed by scripts/setup-e2e.sh) serves it on 127.0.0.1 and the URL is printed.
// `npm start -- --train` instead trains the dense autoencoder sample headless (the engine demo).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

function newestMtime(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return fs.readdirSync(p).reduce((m, f) => Math.max(m, newestMtime(path.join(p, f))), st.mtimeMs);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const built = path.join(root, 'dist', 'extension.js');
const sources = ['src', 'webview', 'package.json', 'webpack.config.js'].map((p) => path.join(root, p));
if (!fs.existsSync(built) || Math.max(...sources.map(newestMtime)) > fs.statSync(built).mtimeMs) {
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build']);
}

if (args[0] === '--train') {
  const graph = path.join(root, 'samples', 'dense-autoencoder.latent.json');
  run(process.execPath, [path.join(root, 'dist', 'cli.js'), 'train', graph, '--epochs', '5', ...args.slice(1)]);
  process.exit(0);
}

// A workspace of its own, so experiments never change the repository's samples.
const workspace = path.join(root, '.e2e', 'workspace');
if (!fs.existsSync(path.join(workspace, 'samples'))) fs.cpSync(path.join(root, 'samples'), path.join(workspace, 'samples'), { recursive: true });

const code = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['code'], { encoding: 'utf8' });
if (code.status === 0 && code.stdout.trim()) {
  run(code.stdout.trim().split('\n')[0], ['--new-window', `--extensionDevelopmentPath=${root}`, workspace]);
  console.log('Opened VS Code with Latent Studio. Open a *.latent.json file from the Explorer.');
  process.exit(0);
}

run('bash', [path.join(root, 'scripts', 'setup-e2e.sh')]);
const port = Number(process.env.PORT ?? 8080);
const userData = path.join(root, '.e2e', 'user-data');
fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
const settings = path.join(userData, 'User', 'settings.json');
if (!fs.existsSync(settings)) {
  fs.writeFileSync(settings, JSON.stringify({ 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'workbench.tips.enabled': false }, null, 2));
}
const entry = path.join(root, '.e2e', 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const server = spawn(
  process.execPath,
  [
    entry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--user-data-dir', userData, '--extensions-dir', path.join(root, '.e2e', 'extensions'), workspace,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
// code-server has no --extensionDevelopmentPath flag; the workbench takes it from the URL payload.
const payload = encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${root}`]]));
const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${payload}`;
console.log(`\nLatent Studio in VS Code (code-server): ${url}\nOpen a *.latent.json file from the Explorer. Ctrl-C stops the server.\n`);
const stop = () => server.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
server.on('exit', (code) => process.exit(code ?? 0));
