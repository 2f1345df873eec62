/**
 * A run folder read back for the training panel (Open Run, a reload, Compare Runs): curves,
 * previews, the classifier's pictures, the newest evaluation and anomaly scores. Every file goes
 * through runFolder.ts; a file that is missing where it must be, or corrupt, becomes a sentence in
 * `problems` (shown in the panel and logged), and the rest of the run is still shown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDenoising } from '../core/analyze';
import type { InspectResult } from '../core/inspect';
import type { Parsed } from '../core/messages';
import type { Overlay, PanelSnapshot } from '../core/panelProtocol';
import { DENOISING_CAPTION, type StagePlan } from '../core/protocol';
import { type EpochRecord, RUN_FILES, type RunConfig } from '../core/runFormat';
import { readMetrics, readMetricsLines, readOptionalRunJson, readRunGraph, readRunJson } from './runFolder';

/** Collects the sentences of files that could not be read. */
class Problems {
  readonly list: string[] = [];
  /** The value, or `fallback` after noting the sentence. */
  take<T>(r: Parsed<T>, fallback: T): T {
    if (r.ok) return r.value;
    this.list.push(r.error);
    return fallback;
  }
}

/** A run's stage plans as config.json records them. */
export function stagePlans(config: RunConfig): StagePlan[] {
  return config.stages.map((st) => ({ name: st.name, kind: st.kind, epochs: st.epochs, batchesPerEpoch: 0, ...(st.kind === 'fit' ? { loss: st.loss } : {}) }));
}

function readPng(file: string): string | null {
  return fs.existsSync(file) ? fs.readFileSync(file).toString('base64') : null;
}

function classifierOf(runDir: string, problems: Problems): PanelSnapshot['classifier'] {
  const file = problems.take(readOptionalRunJson(runDir, 'confusion'), null);
  if (!file) return null;
  const { stageIndex, epoch, classNames, confusion, labels, predicted, confidence } = file;
  const stripPngBase64 = readPng(path.join(runDir, RUN_FILES.predictions)) ?? '';
  return { stageIndex, epoch, preview: { classNames, confusion, labels, predicted, confidence, stripPngBase64 } };
}

/** The caption of a run's reconstruction preview, from its graph snapshot: a denoising autoencoder's has three rows. */
function previewCaption(runDir: string, problems: Problems): { caption?: string } {
  const analysis = problems.take(readRunGraph(runDir), null);
  return analysis && isDenoising(analysis) ? { caption: DENOISING_CAPTION } : {};
}

function previewOf(runDir: string, epochs: readonly EpochRecord[], problems: Problems): PanelSnapshot['preview'] {
  const png = readPng(path.join(runDir, RUN_FILES.reconstructions));
  return png === null ? null : { epoch: epochs.at(-1)?.epoch ?? 0, pngBase64: png, ...previewCaption(runDir, problems) };
}

/** The epoch records that read; each other line is a problem, but half a last line (a killed append) is not. */
function metricsOf(runDir: string, problems: Problems): EpochRecord[] {
  const lines = problems.take(readMetricsLines(runDir), null);
  if (!lines) return [];
  for (const bad of lines.bad) if (bad.line !== lines.lastLine) problems.list.push(bad.error);
  return lines.records;
}

/** A finished (or interrupted) run, read back from its folder. */
export function snapshotFromRunFolder(runDir: string): PanelSnapshot {
  const problems = new Problems();
  const status = problems.take(readRunJson(runDir, 'status'), null);
  const config = problems.take(readRunJson(runDir, 'config'), null);
  const epochs = metricsOf(runDir, problems);
  const anomaly = problems.take(readOptionalRunJson(runDir, 'anomaly'), null);
  const inspections: InspectResult[] = anomaly ? [anomaly] : [];
  return {
    run: {
      graphName: status?.graphName ?? config?.graphName ?? path.basename(runDir),
      graphFile: RUN_FILES.graph,
      runDir,
      backend: config?.backend ?? null,
      dataset: config ? `${config.dataset.source}: ${config.split.train} train / ${config.split.validation} validation` : null,
      stages: config ? stagePlans(config) : [],
    },
    // "running" in a folder read back after a reload means the window closed under it.
    status: status === null || status.status === 'running' ? 'failed' : status.status,
    message: status?.status === 'running' ? 'interrupted: the window closed while it trained' : (status?.error ?? (status ? null : 'the run folder cannot be read')),
    epochs,
    batches: [],
    preview: previewOf(runDir, epochs, problems),
    classifier: classifierOf(runDir, problems),
    evaluation: problems.take(readOptionalRunJson(runDir, 'evaluation'), null),
    overlays: [],
    inspections,
    problems: problems.list,
  };
}

/** Another run's curves to draw over the panel's run (Compare Runs), or the sentence why they cannot be read. */
export function overlayFromRunFolder(runDir: string, label: string): Parsed<Overlay> {
  const config = readRunJson(runDir, 'config');
  if (!config.ok) return config;
  const epochs = readMetrics(runDir);
  if (!epochs.ok) return epochs;
  return { ok: true, value: { label, runDir, stages: stagePlans(config.value), epochs: epochs.value } };
}
