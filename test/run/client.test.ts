import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendReport } from '../../src/core/backendReport';
import { TrainingAborted, TrainingFailure, TrainingSession, type WorkerLaunch, exitSentence, nodePathEnv, probeBackend, wasmThreadsEnv } from '../../src/run/client';
import { SAMPLES_DIR, sampleText } from '../helpers/samples';

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

test('latentStudio.trainingThreads: a number forces the wasm threads, 0 keeps a core for VS Code', async () => {
  assert.deepEqual(wasmThreadsEnv(3), { LATENT_WASM_THREADS: '3' });
  assert.deepEqual(wasmThreadsEnv(20), { LATENT_WASM_THREADS: '8' });
  assert.deepEqual(wasmThreadsEnv(0), { LATENT_WASM_KEEP_CORES: '1', LATENT_WASM_KEEP_FOR: 'VS Code' });
  assert.deepEqual(wasmThreadsEnv(1.5), wasmThreadsEnv(0), 'not a whole number: auto');
  // What a worker started with them reports (the threaded build runs here: SIMD and SharedArrayBuffer).
  const saved = process.env.LATENT_WASM_THREADS;
  delete process.env.LATENT_WASM_THREADS;
  try {
    assert.equal((await probeBackend({ backend: 'wasm', env: wasmThreadsEnv(2) })).detail, 'SIMD on, threads on (2)');
    const auto = (await probeBackend({ backend: 'wasm', env: wasmThreadsEnv(0) })).detail ?? '';
    const cores = os.availableParallelism();
    if (cores === 2) assert.equal(auto, 'SIMD on, threads off (1 of 2 cores kept for VS Code)');
    else assert.match(auto, /^SIMD on, threads (on \(\d\)|off \(.+\))$/);
  } finally {
    if (saved !== undefined) process.env.LATENT_WASM_THREADS = saved;
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

// ---------------------------------------------------------------------------------------------
// No caller waits without a reply or a deadline.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-client-'));
const densePath = path.join(SAMPLES_DIR, 'dense-autoencoder.latent.json');

/** A stand-in worker that says `ready` (or not) and then never answers. */
function silentWorker(sayReady: boolean): WorkerLaunch {
  const file = path.join(tmp, `silent-${sayReady}.js`);
  fs.writeFileSync(file, `${sayReady ? "process.send({ type: 'ready', pid: process.pid });" : ''}\nprocess.on('message', () => {});\nsetInterval(() => {}, 1000);\n`);
  return { modulePath: file, execArgv: [] };
}

test('a request the worker rejects comes back as a failure with the sentence, and the worker exits', async () => {
  const logs: string[] = [];
  // What a caller that bypasses the types could send (the CLI once sent stages: "").
  const stages = '' as unknown as string[];
  const session = new TrainingSession(
    { graphText: sampleText('dense-autoencoder'), graphPath: densePath, runsDir: path.join(tmp, 'runs'), backend: 'cpu', stages },
    { onMessage: (m) => m.type === 'log' && logs.push(m.message) },
  );
  await assert.rejects(session.result, (e: unknown) => e instanceof TrainingFailure && /^Malformed host message: request\.stages: Invalid input: expected array, received string$/.test(e.message));
  assert.ok(logs.some((l) => /request\.stages.*a 'start' message, rejected/.test(l)), logs.join('\n'));
  assert.equal(fs.existsSync(path.join(tmp, 'runs')), false, 'nothing was trained and no run folder made');
  // The failure is the worker's answer (the parse sentence above), not a missed deadline.
});

test('a worker that never answers its request is stopped after the deadline, with a sentence', async () => {
  const session = new TrainingSession({ graphText: '{}', graphPath: densePath, runsDir: tmp }, { launch: silentWorker(true), deadlines: { acceptMs: 300 } });
  await assert.rejects(session.result, /The training worker did not answer its start request within 0\.3 s, so it was stopped\.$/);
  assert.ok(session.pid !== undefined);
  await waitForExit(session.pid);
  await assert.rejects(probeBackend({ launch: silentWorker(false), deadlines: { readyMs: 300 } }), /The training worker did not start within 0\.3 s, so it was stopped\.$/);
});

/** Resolves once no process has this pid (the client killed it). */
async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`process ${pid} is still running`);
}

test('a worker that dies says what happened, not its stderr: exit code or signal in the sentence, the output in the detail', async () => {
  // A stand-in that prints what the WebGPU probe prints when Vulkan has no driver, then exits with 3.
  const file = path.join(tmp, 'noisy.js');
  fs.writeFileSync(file, "process.stderr.write('vkCreateInstance: Found no drivers!\\n');\nprocess.send({ type: 'ready', pid: process.pid });\nprocess.on('message', () => setTimeout(() => process.exit(3), 50));\n");
  const session = new TrainingSession({ graphText: '{}', graphPath: densePath, runsDir: tmp }, { launch: { modulePath: file, execArgv: [] }, deadlines: { acceptMs: 5_000 } });
  const failure = await session.result.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof TrainingFailure && !(failure instanceof TrainingAborted));
  assert.equal(failure.message, 'The training worker exited with code 3 before finishing; its last output is in the log.');
  assert.match(failure.detail ?? '', /vkCreateInstance: Found no drivers!/);
});

test('a Stop the worker does not obey within the grace period ends it as stopped, and says so', async () => {
  const session = new TrainingSession({ graphText: '{}', graphPath: densePath, runsDir: tmp }, { launch: silentWorker(true), deadlines: { acceptMs: 10_000 }, cancelGraceMs: 200 });
  await new Promise((r) => setTimeout(r, 500));
  session.cancel();
  const stopped = await session.result.then(
    () => assert.fail('expected the stop'),
    (e: unknown) => e,
  );
  assert.ok(stopped instanceof TrainingAborted, String(stopped));
  assert.equal(stopped.message, 'Stopped: the training worker did not stop within 0.2 s of the request, so it was ended; the run keeps its last completed epoch, and Resume continues from there.');
});

test('exitSentence: signals by name and number, our own kills as stopped', () => {
  assert.deepEqual(exitSentence('train.py process', 'finishing', null, 'SIGTERM', undefined), { status: 'failed', message: 'The train.py process was killed by signal SIGTERM (15) before finishing.' });
  assert.match(exitSentence('training worker', 'finishing', null, 'SIGSEGV', undefined).message, /SIGSEGV \(11\) before finishing \(a crash in native code: its output is in the log\)\.$/);
  assert.equal(exitSentence('training worker', 'finishing', null, 'SIGKILL', { kind: 'user' }).status, 'stopped');
});
