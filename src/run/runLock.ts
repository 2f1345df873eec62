/**
 * One writer per run folder: training, resuming, and every job that writes into the folder
 * (evaluation, inspections, generated samples) claim it first by creating `<run>/.lock` exclusively
 * (O_EXCL: atomic, so of two processes started together exactly one gets it) and hold it until they
 * end. The file says who holds it; a lock whose process is gone (killed, crashed) is taken over.
 * The PyTorch engine's train.py claims the same file the same way (src/export/pytorch/trainRuntime.ts
 * claim_run), so the two engines exclude each other too.
 *
 * Why our own and not a package: the OS locks Node offers (none, without native addons) would not
 * be seen by train.py; an exclusive create works the same from Node and Python on every platform.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { RunFolderError } from './runFolder';

export const LOCK_FILE = '.lock';

export const RunLockSchema = z.object({
  pid: z.number().int(),
  host: z.string(),
  /** What holds it: "training", "resuming", "evaluating", ... */
  job: z.string(),
  startedAt: z.string(),
  /** Unique per claim: tells this claim's file from a later one at the same path. */
  token: z.string(),
});
export type RunLock = z.infer<typeof RunLockSchema>;

export interface HeldLock {
  readonly file: string;
  /** Gives the folder back (idempotent); also done when the process exits normally. */
  release(): void;
}

/** Whether a process of this machine is alive (EPERM: alive, someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): RunLock | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  try {
    const parsed = RunLockSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** The holder as a sentence: "training in process 123 since 2026-12-03T10:02:00Z". */
export function describeHolder(lock: RunLock): string {
  return `${lock.job} in process ${lock.pid}${lock.host !== os.hostname() ? ` on ${lock.host}` : ''} since ${lock.startedAt}`;
}

/** A holder that is gone: its process on this machine no longer runs. */
function stale(lock: RunLock): boolean {
  return lock.host === os.hostname() && lock.pid !== process.pid && !processAlive(lock.pid);
}

/**
 * Claims `runDir` for `job`, or throws a RunFolderError naming who holds it. A lock left by a
 * process that is gone is moved aside (an atomic rename, checked afterwards: if another claimer
 * replaced it in between, that claim is put back) and the claim retried.
 */
export function claimRun(runDir: string, job: string): HeldLock {
  const file = path.join(runDir, LOCK_FILE);
  const mine: RunLock = { pid: process.pid, host: os.hostname(), job, startedAt: new Date().toISOString(), token: randomUUID() };
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new RunFolderError(`${runDir}: no such run folder`, runDir);
      if (code !== 'EEXIST') throw new RunFolderError(`${file}: cannot claim the run folder (${code ?? String(e)})`, file);
      const held = readLock(file);
      if (held === 'missing') continue; // released meanwhile
      if (held === 'unreadable') {
        // A claim being written this very moment, or a file someone broke: look again, then say so.
        if (attempt < 2) {
          sleepSync(50);
          continue;
        }
        throw new RunFolderError(`${file} is not a lock file this version can read: if nothing else uses ${path.basename(runDir)}, delete ${LOCK_FILE} and try again`, file);
      }
      if (!stale(held)) throw new RunFolderError(`${path.basename(runDir)} is busy: ${describeHolder(held)}. Wait for it to end, or stop it`, runDir);
      takeOverStale(file, held);
      continue;
    }
    try {
      fs.writeSync(fd, JSON.stringify(mine));
    } finally {
      fs.closeSync(fd);
    }
    return holdUntilExit(file, mine.token);
  }
  throw new RunFolderError(`${path.basename(runDir)}: could not claim the run folder (others kept claiming it)`, runDir);
}

function takeOverStale(file: string, held: RunLock): void {
  const aside = `${file}.stale-${process.pid}-${randomUUID()}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return; // someone else moved it first: the retry sees what is there now
  }
  const moved = readLock(aside);
  if (typeof moved === 'object' && moved.token !== held.token) {
    // Between our read and the rename another process took over and claimed: give its claim back.
    try {
      fs.linkSync(aside, file);
    } catch {
      // A third claim exists by now; it holds the folder.
    }
  }
  fs.rmSync(aside, { force: true });
}

function holdUntilExit(file: string, token: string): HeldLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    // Only our own claim: never a lock someone took over after ours went stale.
    const now = readLock(file);
    if (typeof now !== 'object' || now.token !== token) return;
    try {
      fs.rmSync(file, { force: true });
    } catch {
      // A folder that became read-only or vanished: the claim is stale once this process ends, and the next claim takes it over.
    }
  };
  process.on('exit', release);
  return { file, release };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
