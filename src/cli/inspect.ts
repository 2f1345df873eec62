/**
 * `latent-studio score`, `predict` and `inspect weights|features|latent`: the inspect jobs
 * (src/core/inspect.ts) on a trained run, run in the worker like evaluate. Each prints what it found
 * and the files it wrote into the run folder; --json prints the result without its pictures and
 * per-sample arrays (those are in the files).
 */
import * as path from 'node:path';
import { DATA_SPEC_HELP } from '../data/spec';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type FeaturesResult,
  type InspectRequest,
  type InspectResult,
  type LatentResult,
  type PredictResult,
  type ScoreResult,
  type WeightsResult,
} from '../core/inspect';
import { type BackendPreference } from '../core/backends';
import { inspectRun } from '../run/client';
import { CliError, backendOption, dataOption, findRun, intAtMost, intList, nonNegativeInt, out, positiveInt, printLogs } from './common';
import { RUN_FILES } from '../core/runFormat';

interface DataOptions {
  run?: string;
  split: 'test' | 'validation';
  data?: string;
  backend: BackendPreference;
  json?: boolean;
  verbose?: boolean;
}

const splitOption = (): Option => new Option('--split <name>', 'which split of the dataset').choices(['test', 'validation']).default('test');
const runOption = '--run <dir>';
const runHelp = "a run folder (.latent/runs/<time>-<name>); default: the graph's newest run with weights in ./.latent/runs";

async function inspect<K extends InspectResult['kind']>(request: InspectRequest & { kind: K }, o: { json?: boolean; verbose?: boolean }): Promise<Extract<InspectResult, { kind: K }>> {
  const result = await inspectRun(request, { onMessage: printLogs(o) });
  if (result.kind !== request.kind) throw new CliError(`The worker answered a ${request.kind} request with a ${result.kind} result.`);
  return result as Extract<InspectResult, { kind: K }>;
}

const pct = (part: number, whole: number): string => `${whole > 0 ? ((100 * part) / whole).toFixed(1) : '0.0'}%`;

// ── score ────────────────────────────────────────────────────────────────────────────────────────

interface ScoreOptions extends DataOptions {
  classes: 'all' | 'trained';
  worst?: number;
  limit?: number;
  threshold?: number;
}

export interface ClassRow {
  readonly label: number;
  readonly name: string;
  readonly trained: boolean;
  readonly samples: number;
  readonly meanScore: number;
  readonly flagged: number;
}

/** Samples, mean score and flagged count per class (labelled datasets only), classes in order. */
export function perClass(r: ScoreResult, threshold: number): ClassRow[] {
  if (!r.labels) return [];
  const rows = new Map<number, { samples: number; sum: number; flagged: number }>();
  r.labels.forEach((label, i) => {
    const row = rows.get(label) ?? { samples: 0, sum: 0, flagged: 0 };
    row.samples++;
    row.sum += r.scores[i]!;
    if (r.scores[i]! > threshold) row.flagged++;
    rows.set(label, row);
  });
  return [...rows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([label, row]) => ({
      label,
      name: r.classNames?.[label] ?? String(label),
      trained: r.trainedClasses === null || r.trainedClasses.includes(label),
      samples: row.samples,
      meanScore: row.sum / row.samples,
      flagged: row.flagged,
    }));
}

function scoreFiles(r: ScoreResult): { scores: string; anomaly: string; worst: string } {
  return { scores: r.csvFile, anomaly: path.join(r.runDir, RUN_FILES.anomaly), worst: path.join(r.runDir, RUN_FILES.worst) };
}

export function formatScore(r: ScoreResult, threshold: number, given: boolean): string {
  const flagged = r.scores.filter((s) => s > threshold).length;
  const lines = [
    r.runDir,
    `  scored ${r.scores.length} samples of the ${r.split} split of ${r.dataset}: reconstruction error (mean squared error) of stage "${r.stage}" (Output "${r.outputId}"), backend ${r.backend}`,
    given ? `  threshold: ${threshold.toPrecision(6)} (given with --threshold; suggested ${r.threshold.toPrecision(6)}: ${r.thresholdRule})` : `  threshold: ${threshold.toPrecision(6)} (suggested: ${r.thresholdRule})`,
    `  flagged: ${flagged} of ${r.scores.length} (${pct(flagged, r.scores.length)}) score above it`,
  ];
  const rows = perClass(r, threshold);
  if (rows.length > 0) {
    const nameWidth = Math.max(5, ...rows.map((row) => row.name.length));
    lines.push(`  ${'class'.padEnd(nameWidth)}  ${'trained'.padEnd(9)}  ${'samples'.padStart(7)}  ${'mean score'.padStart(10)}  ${'flagged'.padStart(7)}`);
    for (const row of rows) {
      lines.push(`  ${row.name.padEnd(nameWidth)}  ${(row.trained ? 'trained' : 'held out').padEnd(9)}  ${String(row.samples).padStart(7)}  ${row.meanScore.toFixed(5).padStart(10)}  ${pct(row.flagged, row.samples).padStart(7)}`);
    }
  }
  const worst = r.worst.slice(0, 5).map((w) => `${w.index}${w.label !== undefined ? ` (${r.classNames?.[w.label] ?? w.label})` : ''} ${w.score.toFixed(5)}`);
  if (worst.length) lines.push(`  worst: ${worst.join(', ')}`);
  const explained = r.worst.slice(0, 5).filter((w) => w.features?.length);
  if (explained.length) {
    lines.push('  most of their error in:');
    for (const w of explained) lines.push(`    ${String(w.index).padStart(6)}  ${w.features!.map((f) => `${f.name} ${pct(Math.round(f.share * 1000), 1000)}`).join(', ')}`);
  }
  const files = scoreFiles(r);
  lines.push(`  wrote ${files.scores}`, `        ${files.anomaly}`, `        ${files.worst} (the ${r.worst.length} worst, originals over reconstructions)`);
  return lines.join('\n');
}

async function scoreCommand(graph: string | undefined, o: ScoreOptions): Promise<void> {
  const runDir = findRun('score', graph, o.run);
  const r = await inspect({ kind: 'score', runDir, split: o.split, data: o.data, backend: o.backend, classes: o.classes, worst: o.worst, limit: o.limit }, o);
  const threshold = o.threshold ?? r.threshold;
  if (!o.json) {
    out(formatScore(r, threshold, o.threshold !== undefined));
    return;
  }
  const flagged = r.scores.filter((s) => s > threshold).length;
  out(
    JSON.stringify({
      runDir: r.runDir,
      stage: r.stage,
      outputId: r.outputId,
      split: r.split,
      dataset: r.dataset,
      backend: r.backend,
      samples: r.scores.length,
      threshold,
      suggestedThreshold: r.threshold,
      thresholdRule: o.threshold !== undefined ? 'given with --threshold' : r.thresholdRule,
      flagged,
      trainedClasses: r.trainedClasses,
      perClass: perClass(r, threshold),
      worst: r.worst,
      files: scoreFiles(r),
    }),
  );
}

// ── predict ──────────────────────────────────────────────────────────────────────────────────────

interface PredictOptions extends DataOptions {
  positions?: number[];
  count?: number;
}

export function formatPredict(r: PredictResult): string {
  const name = (c: number | undefined): string => (c === undefined ? '-' : r.classNames?.[c] ?? String(c));
  const lines = [r.runDir, `  stage "${r.stage}" (Output "${r.outputId}") on ${r.items.length} images of the ${r.split} split of ${r.dataset}, backend ${r.backend}`];
  let right = 0;
  for (const item of r.items) {
    const head = `  position ${item.position} (index ${item.index}): true ${name(item.label)}`;
    if (item.probabilities) {
      const top = item.probabilities.map((p, c) => ({ p, c })).sort((a, b) => b.p - a.p || a.c - b.c).slice(0, 3);
      if (item.predicted === item.label) right++;
      lines.push(`${head}, predicted ${name(item.predicted)}${item.label !== undefined && item.predicted !== item.label ? ' (wrong)' : ''}  top 3: ${top.map((t) => `${name(t.c)} ${t.p.toFixed(3)}`).join(', ')}`);
    } else lines.push(`${head}, reconstruction error ${item.error!.toFixed(5)}`);
  }
  if (r.target === 'labels' && r.items.every((i) => i.label !== undefined)) lines.push(`  ${right} of ${r.items.length} right (${pct(right, r.items.length)})`);
  if (r.target === 'input') lines.push(`  mean reconstruction error ${(r.items.reduce((s, i) => s + i.error!, 0) / r.items.length).toFixed(5)}`);
  return lines.join('\n');
}

async function predictCommand(graph: string | undefined, o: PredictOptions): Promise<void> {
  const runDir = findRun('predict', graph, o.run);
  const r = await inspect({ kind: 'predict', runDir, split: o.split, data: o.data, backend: o.backend, positions: o.positions, count: o.count }, o);
  if (!o.json) {
    out(formatPredict(r));
    return;
  }
  const items = r.items.map(({ imagePngBase64: _image, reconstructionPngBase64: _recon, ...rest }) => rest);
  out(JSON.stringify({ ...r, items }));
}

// ── inspect weights | features | latent ──────────────────────────────────────────────────────────

interface InspectOptions extends DataOptions {
  layer?: string;
  maxUnits?: number;
  position?: number;
  layers?: string;
  maxChannels?: number;
  limit?: number;
}

export function describeWeights(r: WeightsResult): string {
  return `${r.file}: ${r.shown} of the ${r.units} ${r.layerKind === 'dense' ? 'units' : 'filters'} of ${r.layerKind === 'dense' ? 'Dense' : 'Conv2D'} layer "${r.layer}" as ${r.tile[0]}×${r.tile[1]} tiles, each scaled to its own min..max (layers: ${r.layers.join(', ')})`;
}

export function describeFeatures(r: FeaturesResult): string {
  const label = r.label !== undefined ? `, class ${r.classNames?.[r.label] ?? r.label}` : '';
  return `${r.file}: feature maps of ${r.maps.length} layer(s) for position ${r.position} of the ${r.split} split (index ${r.index}${label}): ${r.maps.map((m) => `${m.layer} ${m.shape.join('×')}${m.shown < m.shape[2]! ? ` (${m.shown} shown)` : ''}`).join(', ')}`;
}

export function describeLatent(r: LatentResult): string {
  const how = r.projection === 'code' ? 'the 2-number code as it is' : `its first two principal components, explaining ${(100 * r.explained![0]).toFixed(1)}% and ${(100 * r.explained![1]).toFixed(1)}% of the variance`;
  return `${r.file}: codes of ${r.x.length} samples of the ${r.split} split (${r.codeSize} numbers each), drawn as ${how}${r.reconstructionsBase64 ? '' : '; the graph has no reconstruction'}`;
}

function leanJson(r: InspectResult): Record<string, unknown> {
  switch (r.kind) {
    case 'weights': {
      const { pngBase64: _png, ...rest } = r;
      return rest;
    }
    case 'features': {
      const { inputPngBase64: _input, maps, ...rest } = r;
      return { ...rest, maps: maps.map(({ pngBase64: _png, ...m }) => m) };
    }
    case 'latent': {
      const { inputsBase64: _inputs, reconstructionsBase64: _recon, ...rest } = r;
      return rest;
    }
    default:
      return r;
  }
}

async function inspectCommand(what: string, graph: string | undefined, o: InspectOptions): Promise<void> {
  const runDir = findRun(`inspect ${what}`, graph, o.run);
  const data = { runDir, split: o.split, data: o.data, backend: o.backend };
  let result: InspectResult;
  let line: string;
  if (what === 'weights') {
    const r = await inspect({ kind: 'weights', runDir, backend: o.backend, layer: o.layer, maxUnits: o.maxUnits }, o);
    [result, line] = [r, describeWeights(r)];
  } else if (what === 'features') {
    const layers = o.layers?.split(',').map((l) => l.trim()).filter((l) => l !== '');
    const r = await inspect({ kind: 'features', ...data, position: o.position, layers, maxChannels: o.maxChannels }, o);
    [result, line] = [r, describeFeatures(r)];
  } else {
    const r = await inspect({ kind: 'latent', ...data, limit: o.limit }, o);
    [result, line] = [r, describeLatent(r)];
  }
  out(o.json ? JSON.stringify(leanJson(result)) : line);
}

const verboseOf = (cmd: Command): boolean | undefined => cmd.optsWithGlobals<{ verbose?: boolean }>().verbose;

export function registerInspectCommands(program: Command): void {
  program
    .command('score')
    .description("Anomaly scores: each sample's reconstruction error under a run's autoencoder, a suggested threshold and the worst reconstructions; writes scores.csv, anomaly.json and worst.png into the run folder.")
    .argument('[graph]', "a *.latent.json file (its newest run is scored unless --run names one)")
    .option(runOption, runHelp)
    .addOption(splitOption())
    .addOption(dataOption())
    .addOption(new Option('--classes <which>', 'all: every class (held-out classes are the anomalies); trained: only training.classes').choices(['all', 'trained']).default('all'))
    .option('--worst <k>', 'how many of the highest scores to show (default 16, at most 100)', intAtMost('--worst', 100))
    .option('--limit <n>', 'score at most n samples', positiveInt('--limit'))
    .option('--threshold <x>', 'flag scores above x instead of the suggested threshold', (v: string) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--threshold must be a number of at least 0.');
      return n;
    })
    .addOption(backendOption())
    .option('--json', 'print {samples, threshold, flagged, perClass, worst, files, ...} as JSON (per-sample scores are in scores.csv)')
    .action((graph: string | undefined, o: ScoreOptions, cmd: Command) => scoreCommand(graph, { ...o, verbose: verboseOf(cmd) }));

  program
    .command('predict')
    .description("Run chosen images of a split through a run's trained model: a classifier's class probabilities, an autoencoder's reconstruction error.")
    .argument('[graph]', "a *.latent.json file (its newest run is used unless --run names one)")
    .option(runOption, runHelp)
    .addOption(splitOption())
    .addOption(dataOption())
    .option('--positions <list>', 'positions within the split, e.g. 0,5,17 (at most 200)', intList('--positions', 200))
    .option('--count <n>', 'the first n images of the split (default 24, at most 200; ignored with --positions)', intAtMost('--count', 200))
    .addOption(backendOption())
    .option('--json', 'print the predictions as JSON (without the images)')
    .action((graph: string | undefined, o: PredictOptions, cmd: Command) => predictCommand(graph, { ...o, verbose: verboseOf(cmd) }));

  program
    .command('inspect')
    .description("Look inside a run's trained model: weights (weights.png), features (feature maps of one input, features.png) or latent (the codes of a split, latent.csv).")
    .argument('<what>', 'weights, features or latent')
    .argument('[graph]', "a *.latent.json file (its newest run is used unless --run names one)")
    .option(runOption, runHelp)
    .addOption(splitOption())
    .addOption(dataOption(`dataset instead of the run's own (features, latent): ${DATA_SPEC_HELP}`))
    .option('--layer <name>', 'weights: the Dense or Conv2D layer (a node id or "encoder.0"); default: the first')
    .option('--max-units <n>', 'weights: most tiles drawn (default 256, at most 1024)', intAtMost('--max-units', 1024))
    .option('--position <n>', 'features: the input, by position within the split (default 0)', nonNegativeInt('--position'))
    .option('--layers <list>', 'features: layers to show, comma-separated (default: every conv layer)')
    .option('--max-channels <n>', 'features: most channels per layer (default 64, at most 256)', intAtMost('--max-channels', 256))
    .option('--limit <n>', 'latent: most points, the first of the split (default 2000, at most 10000)', intAtMost('--limit', 10000))
    .addOption(backendOption())
    .option('--json', 'print the result as JSON (without pictures and pixel buffers)')
    .action((what: string, graph: string | undefined, o: InspectOptions, cmd: Command) => {
      if (!['weights', 'features', 'latent'].includes(what)) throw new CliError(`inspect: "${what}" is not something to inspect: use weights, features or latent.`);
      return inspectCommand(what, graph, { ...o, verbose: verboseOf(cmd) });
    });
}
