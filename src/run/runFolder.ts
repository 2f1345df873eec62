/**
 * Run folders: `.latent/runs/<time>-<name>/` with the graph snapshot and its hash, the resolved
 * config, metrics.jsonl, the trained model and pictures. run.json tells a reader (the CLI, the
 * Runs view) whether the run is going, finished, stopped or failed; it is replaced atomically.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { type EpochRecord, EpochRecordSchema } from '../core/protocol';

export const RunStatusSchema = z
  .object({
    status: z.enum(['running', 'completed', 'stopped', 'failed']),
    graphName: z.string(),
    startedAt: z.string(),
    endedAt: z.string().optional(),
    backend: z.string().optional(),
    epochsCompleted: z.number().int(),
    bestValLoss: z.number().nullable(),
    error: z.string().optional(),
    pid: z.number().int().optional(),
  })
  .strict();
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const RUN_FILES = {
  graph: 'graph.latent.json',
  config: 'config.json',
  status: 'run.json',
  metrics: 'metrics.jsonl',
  model: 'model',
  reconstructions: 'reconstructions.png',
  /** Folder with the last completed epoch's weights, optimizer and shuffle state (see checkpoint.ts). */
  checkpoint: 'checkpoint',
  /** A classifier stage's latest confusion matrix on the validation split, with the preview predictions. */
  confusion: 'confusion.json',
  /** The classifier's preview images side by side (their labels and predictions are in confusion.json). */
  predictions: 'predictions.png',
  /** The latest `latent-studio evaluate` result (EvaluationSchema). */
  evaluation: 'evaluation.json',
  /** Layer-wise pretraining: test accuracy of the stack before and after fine-tuning. */
  pretraining: 'pretraining.json',
} as const;

/** The parts of config.json that resuming, evaluating and exporting read back (the rest passes through). */
export const RunConfigSchema = z
  .object({
    graphFile: z.string(),
    graphSha256: z.string(),
    seed: z.number(),
    dataset: z.object({ spec: z.string() }).passthrough(),
    overrides: z
      .object({
        epochs: z.number().int().min(1).optional(),
        batchSize: z.number().int().min(1).optional(),
        data: z.string().optional(),
        limitSamples: z.number().int().min(1).optional(),
        limitValidation: z.number().int().min(1).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type RunConfig = z.infer<typeof RunConfigSchema>;

/** config.json of a run folder, or a sentence naming the file and what is wrong with it. */
export function readRunConfig(runDir: string): { ok: true; config: RunConfig } | { ok: false; error: string } {
  const file = path.join(runDir, RUN_FILES.config);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, error: code === 'ENOENT' ? `${file}: not found` : `${file}: unreadable (${e instanceof Error ? e.message : String(e)})` };
  }
  const parsed = RunConfigSchema.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `${file}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
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

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export function writeStatus(runDir: string, status: RunStatus): void {
  writeFileAtomic(path.join(runDir, RUN_FILES.status), `${JSON.stringify(status, null, 2)}\n`);
}

export function readStatus(runDir: string): RunStatus | undefined {
  try {
    const parsed = RunStatusSchema.safeParse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.status), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Mark a run failed from outside the worker (it crashed before it could say so itself). */
export function markRunFailed(runDir: string, message: string): void {
  const current = readStatus(runDir);
  if (!current || current.status !== 'running') return;
  writeStatus(runDir, { ...current, status: 'failed', endedAt: new Date().toISOString(), error: message });
}

/**
 * Keep only the epoch records `keep` accepts, and drop lines that are not records (a worker killed
 * mid-append leaves half a line); rewrites atomically. Returns how many lines were dropped.
 */
export function trimMetrics(runDir: string, keep: (record: EpochRecord) => boolean): number {
  const file = path.join(runDir, RUN_FILES.metrics);
  if (!fs.existsSync(file)) return 0;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  const kept = lines.filter((line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return false;
    }
    const parsed = EpochRecordSchema.safeParse(value);
    return parsed.success && keep(parsed.data);
  });
  if (kept.length === lines.length) return 0;
  writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''));
  return lines.length - kept.length;
}

export function appendMetrics(runDir: string, record: EpochRecord): void {
  fs.appendFileSync(path.join(runDir, RUN_FILES.metrics), `${JSON.stringify(record)}\n`);
}

export function readMetrics(runDir: string): EpochRecord[] {
  const file = path.join(runDir, RUN_FILES.metrics);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      const parsed = EpochRecordSchema.safeParse(JSON.parse(l));
      if (!parsed.success) throw new Error(`${file}: line ${i + 1} is not an epoch record`);
      return parsed.data;
    });
}
