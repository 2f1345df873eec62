/**
 * The one reader and writer of run folders (`.latent/runs/<time>-<name>/`, format in
 * src/core/runFormat.ts, described in docs/run-format.md). Host-safe: no tfjs, so the extension
 * host, the CLI and the worker all read and write through here.
 *
 * Readers return a Parsed result, or throw a RunFolderError: a missing or corrupt file is a sentence
 * naming the file and the field, never `undefined`. Writers validate what they write against the
 * same schema and replace files atomically (temp file + rename), so a reader never sees half a file.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type GraphAnalysis, analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { UserError } from '../core/errors';
import type { Parsed } from '../core/messages';
import {
  type EpochRecord,
  type MetricsText,
  RUN_FILES,
  RUN_FORMAT_VERSION,
  RUN_JSON_FILES,
  type RunJson,
  type RunJsonInput,
  type RunJsonKind,
  type RunStatus,
  parseMetricsText,
  parseRunJson,
  serializeEpochRecord,
  serializeRunJson,
} from '../core/runFormat';


/** A run folder file that cannot be used: names the file and what is wrong with it. */
export class RunFolderError extends UserError {}

/** The path of a run folder file. */
export const runFile = (runDir: string, kind: RunJsonKind): string => path.join(runDir, RUN_JSON_FILES[kind].file);

function readText(file: string): Parsed<string | null> {
  try {
    return { ok: true, value: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: true, value: null };
    return { ok: false, error: `${file}: unreadable (${code ?? (e instanceof Error ? e.message : String(e))})` };
  }
}

/** A JSON file of the run folder; missing is an error too ("<file>: not found"). */
export function readRunJson<K extends RunJsonKind>(runDir: string, kind: K): Parsed<RunJson<K>> {
  const file = runFile(runDir, kind);
  const text = readText(file);
  if (!text.ok) return text;
  if (text.value === null) return { ok: false, error: `${file}: not found` };
  return parseRunJson(kind, text.value, file);
}

/** A JSON file the run folder may lack (evaluation.json before any evaluation): null when missing, a sentence when corrupt. */
export function readOptionalRunJson<K extends RunJsonKind>(runDir: string, kind: K): Parsed<RunJson<K> | null> {
  const file = runFile(runDir, kind);
  const text = readText(file);
  if (!text.ok || text.value === null) return text as Parsed<null>;
  return parseRunJson(kind, text.value, file);
}

/** A JSON file the caller cannot do without: its value, or a RunFolderError with the sentence. */
export function requireRunJson<K extends RunJsonKind>(runDir: string, kind: K, consequence?: string): RunJson<K> {
  const r = readRunJson(runDir, kind);
  if (!r.ok) throw new RunFolderError(consequence ? `${r.error}; ${consequence}` : r.error, runFile(runDir, kind));
  return r.value;
}

/**
 * Why `dir` cannot be a folder to write into, or undefined when it can: it, or the first part of its
 * path that exists, is a file (`--out notes.txt/sub` would otherwise fail with ENOTDIR).
 */
export function notAFolder(dir: string): string | undefined {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(at);
    } catch {
      stat = undefined;
    }
    if (stat) return stat.isDirectory() ? undefined : at === path.resolve(dir) ? `${dir} is a file, not a folder` : `${dir} cannot be made: ${at} is a file, not a folder`;
    if (path.dirname(at) === at) return undefined;
  }
}

/**
 * A write to the run folder (or an export) that the file system refused: a full disk, a read-only
 * folder, no permission. Its sentence names the file and the cause in words; `code` is the errno.
 */
export class WriteError extends UserError {
  constructor(
    file: string,
    readonly code: string | undefined,
    cause: unknown,
  ) {
    super(`${file}: ${writeFault(code, cause)}`, file, { cause });
  }
}

function writeFault(code: string | undefined, cause: unknown): string {
  switch (code) {
    case 'ENOSPC':
      return 'could not be written: the disk is full (no space left on device)';
    case 'EDQUOT':
      return 'could not be written: your disk quota is used up';
    case 'EROFS':
      return 'could not be written: the folder is on a read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'could not be written: permission denied (the folder is read-only for you)';
    case 'ENOENT':
      return 'could not be written: its folder was deleted';
    default:
      return `could not be written (${cause instanceof Error ? cause.message : String(cause)})`;
  }
}

/** Turns an fs failure while writing `file` into a WriteError (anything else passes through). */
export function asWriteError(file: string, e: unknown): unknown {
  if (e instanceof WriteError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? new WriteError(file, code, e) : e;
}

/** Writes all of `data` to `fd` (a write may be short: a disk that fills up takes part of it before ENOSPC). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.byteLength; ) at += fs.writeSync(fd, data, at, data.byteLength - at);
}

/** Writes `file` whole or not at all: a temporary file renamed into place, removed again when the write fails. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asWriteError(file, e);
  }
}

/** Write a JSON file of the run folder, validated against its schema, atomically. */
export function writeRunJson<K extends RunJsonKind>(runDir: string, kind: K, value: RunJsonInput<K>): void {
  const file = runFile(runDir, kind);
  writeFileAtomic(file, serializeRunJson(kind, value, file));
}

// ---------------------------------------------------------------------------------------------
// run.json

/** run.json as a writer builds it: everything but the format version, which is always this one's. */
export type RunStatusInput = Omit<RunStatus, 'runFormatVersion'>;

export function writeStatus(runDir: string, status: RunStatusInput): void {
  writeRunJson(runDir, 'status', { ...status, runFormatVersion: RUN_FORMAT_VERSION });
}

/** Mark a run failed from outside the worker (it crashed before it could say so itself). */
export function markRunFailed(runDir: string, message: string): void {
  markRunEnded(runDir, 'failed', message);
}

/** Mark a still-running run ended from outside its process: failed (it crashed) or stopped (we ended it on request), with the sentence. */
export function markRunEnded(runDir: string, status: 'failed' | 'stopped', message: string): void {
  try {
    markEnded(runDir, status, message);
  } catch {
    // A folder deleted or made read-only under the run: readers then see a dead process's "running" as interrupted (runStore).
  }
}

function markEnded(runDir: string, status: 'failed' | 'stopped', message: string): void {
  const current = readRunJson(runDir, 'status');
  if (!current.ok || current.value.status !== 'running') return;
  const { pid: _pid, ...rest } = current.value;
  // run.json counts an epoch before its checkpoint is written: a process killed in between leaves the checkpoint one behind, and that is what resumes.
  const checkpoint = readOptionalRunJson(runDir, 'checkpoint');
  const kept = checkpoint.ok ? { epochsCompleted: checkpoint.value?.epochsCompleted ?? 0, bestValLoss: checkpoint.value ? checkpoint.value.bestValLoss : rest.bestValLoss } : {};
  writeStatus(runDir, { ...rest, ...kept, status, endedAt: new Date().toISOString(), error: message });
}

// ---------------------------------------------------------------------------------------------
// metrics.jsonl

const metricsFile = (runDir: string): string => path.join(runDir, RUN_FILES.metrics);

/** Every epoch record, and every line that is not one (with its sentence), for readers that show what they can. */
export function readMetricsLines(runDir: string): Parsed<MetricsText> {
  const file = metricsFile(runDir);
  const text = readText(file);
  if (!text.ok) return text;
  return { ok: true, value: parseMetricsText(text.value ?? '', file) };
}

/**
 * Every epoch record. A last line that is not one is half an append (a worker killed mid-write) and
 * left out; any other bad line is the sentence. No file: no epochs yet.
 */
export function readMetrics(runDir: string): Parsed<EpochRecord[]> {
  const r = readMetricsLines(runDir);
  if (!r.ok) return r;
  const { records, bad, lastLine } = r.value;
  const real = bad.filter((b) => b.line !== lastLine);
  return real.length > 0 ? { ok: false, error: real[0]!.error } : { ok: true, value: records };
}

export function appendMetrics(runDir: string, record: EpochRecord): void {
  try {
    fs.appendFileSync(metricsFile(runDir), serializeEpochRecord(record));
  } catch (e) {
    throw asWriteError(metricsFile(runDir), e);
  }
}

/**
 * Keep only the epoch records `keep` accepts, and drop lines that are not records (a worker killed
 * mid-append leaves half a line); rewrites atomically. Returns how many lines were dropped.
 */
export function trimMetrics(runDir: string, keep: (record: EpochRecord) => boolean): number {
  const r = readMetricsLines(runDir);
  if (!r.ok) throw new RunFolderError(r.error, metricsFile(runDir));
  const kept = r.value.records.filter(keep);
  const dropped = r.value.records.length - kept.length + r.value.bad.length;
  if (dropped > 0) writeFileAtomic(metricsFile(runDir), kept.map(serializeEpochRecord).join(''));
  return dropped;
}

// ---------------------------------------------------------------------------------------------
// The graph snapshot, names and folders

/** graph.latent.json: the graph exactly as the run trained it. */
export function readGraphSnapshot(runDir: string): Parsed<string> {
  const file = path.join(runDir, RUN_FILES.graph);
  const text = readText(file);
  if (!text.ok) return text;
  return text.value === null ? { ok: false, error: `${file}: not found (the run's graph snapshot)` } : { ok: true, value: text.value };
}

/** The run's graph snapshot, analyzed (what the run trained); or the sentence why it cannot be read. */
export function readRunGraph(runDir: string): Parsed<GraphAnalysis> {
  const text = readGraphSnapshot(runDir);
  if (!text.ok) return text;
  const parsed = parseJsonText(text.value);
  const file = path.join(runDir, RUN_FILES.graph);
  return parsed.ok ? { ok: true, value: analyzeGraph(parsed.value) } : { ok: false, error: `${file}:${parsed.error.line}:${parsed.error.column}: ${parsed.error.message}` };
}

/** Whether the run has a checkpoint manifest (reading it is readRunJson(runDir, 'checkpoint')). */
export function hasCheckpoint(runDir: string): boolean {
  return fs.existsSync(runFile(runDir, 'checkpoint'));
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** "dense-autoencoder" from ".../dense-autoencoder.latent.json". */
export function runName(graphPath: string): string {
  const base = path.basename(graphPath).replace(/\.latent\.json$/i, '').replace(/\.json$/i, '');
  return base.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'graph';
}

/** Create a fresh, uniquely named run folder; `2026-11-22T11-30-05-dense-autoencoder`. */
export function createRunDir(runsDir: string, graphPath: string, now = new Date()): string {
  fs.mkdirSync(runsDir, { recursive: true });
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, '-');
  const base = `${stamp}-${runName(graphPath)}`;
  for (let i = 1; ; i++) {
    const dir = path.join(runsDir, i === 1 ? base : `${base}-${i}`);
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
