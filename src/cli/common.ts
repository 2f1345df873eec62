/** What every CLI command shares: the one-line error, output helpers and argument parsers. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES } from '../core/backends';
import type { FromWorker } from '../core/protocol';
import { DATA_SPEC_HELP, formatDataSpec, parseDataSpec } from '../data/spec';
import { DatasetError } from '../data/types';
import { hasTrainedWeights, listRuns, pickLatest, readRun } from '../run/runStore';

/** A failure to report as one line (the user's input was wrong), not as a crash. */
export class CliError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
  }
}

export const out = (line: string): void => void process.stdout.write(`${line}\n`);
export const err = (line: string): void => void process.stderr.write(`${line}\n`);

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1.`);
    return n;
  };
}

export function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number of at least 0.`);
    return n;
  };
}

/** A positive whole number of at most `max`. */
export function intAtMost(name: string, max: number) {
  return (v: string): number => {
    const n = positiveInt(name)(v);
    if (n > max) throw new InvalidArgumentError(`${name} must be at most ${max}.`);
    return n;
  };
}

/** "0,5,17" → [0, 5, 17]; each a whole number ≥ 0, at most `max` of them. */
export function intList(name: string, max: number) {
  return (v: string): number[] => {
    const parts = v.split(',').map((p) => p.trim());
    if (parts.length === 0 || parts.some((p) => p === '')) throw new InvalidArgumentError(`${name} takes whole numbers separated by commas, e.g. 0,5,17.`);
    const values = parts.map((p) => {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name}: "${p}" is not a whole number of at least 0.`);
      return n;
    });
    if (values.length > max) throw new InvalidArgumentError(`${name} takes at most ${max} numbers, got ${values.length}.`);
    return values;
  };
}

export function fmt(n: number | null | undefined, digits = 4): string {
  return n === null || n === undefined ? '-' : n.toFixed(digits);
}

/** `--backend <name>`: one of the backends or auto (every command that runs a worker). */
export const backendOption = (): Option => new Option('--backend <name>', 'TensorFlow.js backend').choices([...BACKEND_NAMES, 'auto']).default('auto');

/**
 * `--data <spec>`: checked as it is parsed, and its relative paths made absolute against the current
 * folder, as every command line does (paths written inside a graph file start at the graph's folder).
 */
export function dataSpecArgument(v: string): string {
  try {
    return formatDataSpec(parseDataSpec(v, process.cwd()));
  } catch (e) {
    if (e instanceof DatasetError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** The `--data` option of a command that trains or reads a dataset. */
export const dataOption = (help = `dataset instead of the run's own: ${DATA_SPEC_HELP}`): Option => new Option('--data <spec>', help).argParser(dataSpecArgument);

/** The worker's log lines on stderr: warnings always, info unless --json, debug with --verbose. */
export function printLogs(o: { json?: boolean; verbose?: boolean }): (m: FromWorker) => void {
  return (m) => {
    if (m.type === 'log' && (m.level === 'warn' || (m.level === 'info' && !o.json) || (m.level === 'debug' && o.verbose))) err(m.message);
  };
}

/**
 * The run a command acts on: `--run <dir>`, else the newest run of `graph` with weights under
 * ./.latent/runs. With both, a note when the run trained another graph file.
 */
export function findRun(command: string, graph: string | undefined, run: string | undefined): string {
  if (run !== undefined) {
    const runDir = path.resolve(run);
    const entry = graph !== undefined ? readRun(runDir) : undefined;
    if (graph !== undefined && entry?.graphFile !== undefined && path.resolve(entry.graphFile) !== path.resolve(graph)) {
      err(`note: ${path.basename(runDir)} trained ${entry.graphFile}, not ${graph}; the run's own graph snapshot is used.`);
    }
    return runDir;
  }
  if (graph === undefined) throw new CliError(`${command} needs --run <dir> (a run folder), or a graph file whose newest run in ./.latent/runs is used.`);
  if (!fs.existsSync(graph)) throw new CliError(`${graph}: no such graph file (name an existing *.latent.json, or a run folder with --run)`);
  const runsDir = path.join(process.cwd(), '.latent', 'runs');
  const picked = pickLatest(listRuns([runsDir]), path.resolve(graph), hasTrainedWeights);
  if ('reason' in picked) throw new CliError(`${picked.reason} (looked in ${runsDir}; name a run folder with --run)`);
  return picked.entry.runDir;
}
