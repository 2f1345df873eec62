/** How many wasm threads: the rule (chooseWasmThreads) and the environment it reads (wasmThreadsWanted). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { chooseWasmThreads, wasmThreadsWanted } from '../../src/backend/kernels/wasm/threads';

test('an idle machine: every core (at most 8)', () => {
  assert.deepEqual(chooseWasmThreads({ cores: 2, idle: 1.9 }), { threads: 2 });
  assert.deepEqual(chooseWasmThreads({ cores: 16, idle: 15.8 }), { threads: 8 });
  assert.deepEqual(chooseWasmThreads({ cores: 4, idle: null }), { threads: 4 }, 'idle unknown: all cores count');
  assert.deepEqual(chooseWasmThreads({ cores: 1, idle: 1 }), { threads: 1 });
});

test('a busy machine: the idle cores, and the reason when that leaves one', () => {
  assert.deepEqual(chooseWasmThreads({ cores: 4, idle: 2.7 }), { threads: 3 });
  assert.deepEqual(chooseWasmThreads({ cores: 4, idle: 2.6 }), { threads: 2 });
  assert.deepEqual(chooseWasmThreads({ cores: 2, idle: 1.2 }), { threads: 1, why: 'busy machine: 1.2 of 2 cores idle' });
});

test('cores kept for VS Code come off the idle ones', () => {
  const vscode = { cores: 1, for: 'VS Code' };
  assert.deepEqual(chooseWasmThreads({ cores: 2, idle: 2, keep: vscode }), { threads: 1, why: '1 of 2 cores kept for VS Code' });
  assert.deepEqual(chooseWasmThreads({ cores: 8, idle: 8, keep: vscode }), { threads: 7 });
  assert.deepEqual(chooseWasmThreads({ cores: 8, idle: 3, keep: vscode }), { threads: 3 }, 'the idle cores when fewer');
  assert.deepEqual(chooseWasmThreads({ cores: 4, idle: 1.1, keep: vscode }), { threads: 1, why: 'busy machine: 1.1 of 4 cores idle' });
  assert.deepEqual(chooseWasmThreads({ cores: 2, idle: 2, keep: { cores: 1 } }), { threads: 1, why: '1 of 2 cores kept for other work' });
});

test('LATENT_WASM_THREADS forces the count over everything else', () => {
  assert.deepEqual(chooseWasmThreads({ cores: 2, idle: 0.1, forced: 2 }), { threads: 2, why: undefined });
  assert.deepEqual(chooseWasmThreads({ cores: 16, idle: 16, forced: 1 }), { threads: 1, why: 'LATENT_WASM_THREADS=1' });
  assert.equal(chooseWasmThreads({ cores: 16, idle: 16, forced: 12 }).threads, 8);
});

test('wasmThreadsWanted reads the environment: forced, kept cores, and what it ignores', async () => {
  assert.deepEqual(await wasmThreadsWanted({ LATENT_WASM_THREADS: '3' }), { threads: 3, why: undefined });
  assert.deepEqual(await wasmThreadsWanted({ LATENT_WASM_THREADS: '1', LATENT_WASM_KEEP_CORES: '1' }), { threads: 1, why: 'LATENT_WASM_THREADS=1' });
  const cores = Math.min(os.availableParallelism(), 8);
  // Keeping every core but one: one thread, without sampling, and the reason names who keeps them.
  assert.deepEqual(await wasmThreadsWanted({ LATENT_WASM_KEEP_CORES: String(cores - 1), LATENT_WASM_KEEP_FOR: 'VS Code' }), cores > 1 ? { threads: 1, why: `${cores - 1} of ${os.availableParallelism()} cores kept for VS Code` } : { threads: 1 });
  // Not numbers: ignored (the idle rule decides, between 1 and the cores).
  const t = (await wasmThreadsWanted({ LATENT_WASM_THREADS: 'many', LATENT_WASM_KEEP_CORES: '-1' }, 50)).threads;
  assert.ok(t >= 1 && t <= cores, `${t} thread(s) on ${cores} core(s)`);
});
