/** The CLI as a terminal runs it: its own process group, and Ctrl-C sent to the whole group (as a terminal sends it). */
import { spawn } from 'node:child_process';
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
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) onLine(l, ctrlC);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}
