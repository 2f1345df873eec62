/** The CLI as a terminal runs it: its own process group, and Ctrl-C sent to the whole group (as a terminal sends it). */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './samples';

const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface TerminalRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `latent-studio args` in a new process group; `onLine` gets each stdout line and `ctrlC()`, which interrupts the group. */
export function inTerminal(args: readonly string[], cwd: string, onLine: (line: string, ctrlC: () => void) => void, timeoutMs = 240_000): Promise<TerminalRun> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  const ctrlC = (): void => {
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      // The group is gone already.
    }
  };
  return collect(child, (line) => onLine(line, ctrlC), () => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
}

/** A child's stdout and stderr as it ends, `onLine` called with each stdout line as it comes; `kill` after `timeoutMs`. */
export function collect(child: ChildProcess, onLine: (line: string) => void, kill: () => void, timeoutMs: number): Promise<TerminalRun> {
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) onLine(l);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(kill, timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

/**
 * Runs `latent-studio args` (with --json) in a terminal and presses Ctrl-C just after epoch `epoch`
 * is printed: once, or twice 100 ms apart (a second press before the stop has finished).
 */
export function ctrlCAtEpoch(args: readonly string[], cwd: string, epoch: number, presses: 1 | 2): Promise<TerminalRun> {
  let pressed = false;
  return inTerminal(args, cwd, (line, ctrlC) => {
    if (pressed || (JSON.parse(line) as { epoch?: number }).epoch !== epoch) return;
    pressed = true;
    ctrlC();
    if (presses === 2) setTimeout(ctrlC, 100);
  });
}
