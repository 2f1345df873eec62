/** One writer per run folder (src/run/runLock.ts): of processes started together exactly one claims it; a dead holder's claim is taken over. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LOCK_FILE, claimRun } from '../../src/run/runLock';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-lock-'));
const LOCK_MODULE = path.join(__dirname, '..', '..', 'src', 'run', 'runLock.ts');

/** A process that claims `dir`, says "claimed" or the sentence, and holds it for `holdMs`. */
function claimer(dir: string, holdMs: number): Promise<string> {
  const code = `import { claimRun } from ${JSON.stringify(LOCK_MODULE)};
try { claimRun(${JSON.stringify(dir)}, 'testing'); console.log('claimed'); setTimeout(() => undefined, ${holdMs}); }
catch (e) { console.log(e instanceof Error ? e.message : String(e)); }`;
  const file = path.join(tmp, `claim-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, code);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

test('of six processes claiming one folder at once, exactly one gets it; the others name the holder', async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'run-'));
  const answers = await Promise.all(Array.from({ length: 6 }, () => claimer(dir, 1500)));
  assert.equal(answers.filter((a) => a === 'claimed').length, 1, answers.join('\n'));
  for (const a of answers.filter((x) => x !== 'claimed')) assert.match(a, new RegExp(`^${path.basename(dir)} is busy: testing in process \\d+ since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\. Wait for it to end, or stop it$`));
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false, 'the holder gave it back when it exited');
});

test("a dead holder's claim is taken over; release removes only this claim", () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'run-'));
  // A process that ran and ended: its pid is free now.
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const pid = Number(dead.stdout.trim());
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, host: os.hostname(), job: 'training', startedAt: '2026-12-03T00:00:00.000Z', token: 'old' }));
  const held = claimRun(dir, 'resuming');
  const lock = JSON.parse(fs.readFileSync(held.file, 'utf8')) as { pid: number; job: string; token: string };
  assert.deepEqual([lock.pid, lock.job], [process.pid, 'resuming']);
  assert.notEqual(lock.token, 'old');
  assert.deepEqual(fs.readdirSync(dir), [LOCK_FILE], 'the stale claim left nothing behind');
  // Held by this very process: a second claim is refused too (one job at a time, even in-process).
  assert.throws(() => claimRun(dir, 'evaluating'), /is busy: resuming in process \d+/);
  // Someone replaced the file meanwhile (a takeover after ours went stale): release leaves theirs.
  fs.writeFileSync(held.file, JSON.stringify({ ...lock, token: 'theirs' }));
  held.release();
  assert.equal(fs.existsSync(held.file), true);
  fs.rmSync(held.file);
  const again = claimRun(dir, 'evaluating');
  again.release();
  again.release();
  assert.equal(fs.existsSync(again.file), false);
});

test('a lock file nobody can read, a holder on another machine and a folder that is gone each get their sentence', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'run-'));
  fs.writeFileSync(path.join(dir, LOCK_FILE), 'not json');
  assert.throws(() => claimRun(dir, 'training'), new RegExp(`\\.lock is not a lock file this version can read: if nothing else uses ${path.basename(dir)}, delete \\.lock and try again`));
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', job: 'training', startedAt: 'then', token: 't' }));
  assert.throws(() => claimRun(dir, 'resuming'), /is busy: training in process 1 on elsewhere since then\./, 'another machine: its process cannot be checked, so it counts as alive');
  assert.throws(() => claimRun(path.join(tmp, 'no-such-run'), 'training'), /no-such-run: no such run folder/);
});
