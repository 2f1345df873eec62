import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { backendReport } from '../../src/core/backendReport';
import { nodePathEnv, probeBackend } from '../../src/run/client';

test('a probe worker reports the backend that would train here and why better ones are skipped', async () => {
  const info = await probeBackend();
  assert.equal(info.name, 'wasm');
  assert.deepEqual(info.skipped.map((s) => s.name), ['tfjs-node-gpu', 'tfjs-node', 'webgpu']);
  assert.match(info.skipped[0]!.reason, /^not installed/);
  await assert.rejects(probeBackend({ backend: 'tfjs-node' }), /tfjs-node is not usable: not installed/);
});

test('extra node_modules folders reach the worker through NODE_PATH', () => {
  const saved = process.env.NODE_PATH;
  delete process.env.NODE_PATH;
  try {
    assert.deepEqual(nodePathEnv([]), {});
    assert.deepEqual(nodePathEnv(['/opt/native/node_modules']), { NODE_PATH: '/opt/native/node_modules' });
    process.env.NODE_PATH = '/already';
    assert.deepEqual(nodePathEnv(['/x']), { NODE_PATH: ['/x', '/already'].join(path.delimiter) });
  } finally {
    if (saved === undefined) delete process.env.NODE_PATH;
    else process.env.NODE_PATH = saved;
  }
});

test('the backend report names the backend, every skip reason and the install steps for the platform', () => {
  const info = { name: 'wasm' as const, tfBackend: 'wasm', detail: 'SIMD on, threads off', skipped: [{ name: 'tfjs-node-gpu' as const, reason: 'not installed' }, { name: 'webgpu' as const, reason: 'no GPU adapter' }] };
  const linux = backendReport(info, 'auto', { platform: 'linux', arch: 'x64' });
  assert.match(linux, /Training runs on \*\*wasm\*\* \(SIMD on, threads off\)\./);
  assert.match(linux, /- \*\*tfjs-node-gpu\*\*: not installed\n- \*\*webgpu\*\*: no GPU adapter/);
  assert.match(linux, /npm install @tensorflow\/tfjs-node-gpu@4\.22\.0 {3}# NVIDIA GPU: needs CUDA 11\.2 and cuDNN 8\.1/);
  assert.match(linux, /latentStudio\.nodeModulesPath/);
  const mac = backendReport(info, 'cpu', { platform: 'darwin', arch: 'arm64' });
  assert.match(mac, /tfjs-node-gpu is built for Linux x64 only/);
  assert.match(mac, /Metal/);
  assert.match(mac, /The latentStudio\.backend setting asks for cpu\./);
});
