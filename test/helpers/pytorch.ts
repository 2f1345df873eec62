/** What the PyTorch engine's tests share: the Python with torch they use (or why they skip), and running a command as they do. */
import { spawnSync } from 'node:child_process';
import { findPython } from '../../src/run/python';

/** The first Python that imports torch (src/run/python.ts' order), or the reason the tests skip. */
export async function torchPython(): Promise<{ python?: string; skipReason?: string }> {
  const found = await findPython();
  return found.ok ? { python: found.command } : { skipReason: found.message };
}

/** A command's exit code and output; one BLAS thread, so two engines side by side do not fight over the cores. */
export function runCommand(command: string, args: readonly string[], cwd: string, timeout = 300_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
