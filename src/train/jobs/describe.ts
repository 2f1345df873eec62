/**
 * The dataset card of a graph (core/datasetCard.ts): its `training.dataset` loaded as training
 * would load it (the Input's shape, resize, label column), the split and class counts, a strip of
 * samples or the first rows of a table, and the sentence that would stop training. Loading an
 * image folder here fills the decode cache the run then reads.
 */
import * as path from 'node:path';
import { analyzeGraph } from '../../core/analyze';
import { parseJsonText } from '../../core/canonical';
import { CARD_SAMPLES, type DatasetCardInput, type DescribeRequest } from '../../core/datasetCard';
import { UserError } from '../../core/errors';
import { TrainingSchema } from '../../core/format';
import { resolveStages } from '../../core/stages';
import { type Dataset, batchToFloat, datasetShape, loadDataset, loadForInput, parseDataSpec, resolveClasses, restrictSplit, splitDataset, unitNormalization } from '../../data/index';
import { imageStrip } from '../png';
import { assertDatasetFits } from '../prepare';
import { classNamesFor, toCells } from '../scoring';

const TABLE_ROWS = 5;
const TABLE_COLUMNS = 6;

const sentence = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The card for a graph; a graph that cannot be read gets a card with only its problem. */
export async function runDescribe(request: DescribeRequest): Promise<DatasetCardInput> {
  const parsed = parseJsonText(request.graphText);
  const analysis = parsed.ok ? analyzeGraph(parsed.value) : undefined;
  // A graph with errors elsewhere (a shape that does not fit the data, say) still names its dataset.
  const rawTraining = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null ? (parsed.value as { training?: unknown }).training : undefined;
  const fallback = TrainingSchema.safeParse(rawTraining ?? {});
  const training = analysis?.document?.training ?? (fallback.success ? fallback.data : undefined);
  if (!analysis || !training) return { spec: '', problem: 'The graph cannot be read; its dataset is read once it can.' };
  const spec = training.dataset;
  const inputShape = analysis.inputId ? analysis.nodes.get(analysis.inputId)?.outputShape : undefined;
  let dataSpec;
  try {
    dataSpec = parseDataSpec(spec, path.dirname(request.graphPath));
  } catch (e) {
    return { spec, problem: sentence(e) };
  }
  let ds: Dataset;
  let problem: string | undefined;
  const settings = { resize: training.resize, labelColumn: training.labelColumn };
  try {
    ds = inputShape ? await loadForInput(dataSpec, inputShape, settings, { cacheDir: request.cacheDir }) : await loadDataset(dataSpec, { cacheDir: request.cacheDir, labelColumn: training.labelColumn });
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    problem = e.message;
    // Not in the Input's shape (another size, no resize): describe it as it is, with the sentence.
    try {
      ds = await loadDataset(dataSpec, { cacheDir: request.cacheDir, labelColumn: training.labelColumn });
    } catch {
      return { spec, problem };
    }
  }
  if (problem === undefined && inputShape) {
    try {
      // The stages (whether one needs labels) only where the graph is valid; the shape check always.
      assertDatasetFits(ds, inputShape, analysis.ok ? resolveStages(analysis) : []);
    } catch (e) {
      problem = sentence(e);
    }
  }
  let trained: number[] | undefined;
  try {
    trained = training.classes ? resolveClasses(ds, training.classes, spec) : undefined;
  } catch (e) {
    problem ??= sentence(e);
  }
  const whole = splitDataset(ds, training.split, training.seed);
  const split = trained ? restrictSplit(whole, ds, trained, spec) : whole;
  return {
    spec,
    source: ds.source,
    kind: ds.kind,
    shape: datasetShape(ds),
    count: ds.count,
    split: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    classes: classCounts(ds, trained),
    ...samples(ds, split.train.length ? split.train : whole.train),
    notes: [...(ds.notes ?? [])],
    ...(problem !== undefined ? { problem } : {}),
  };
}

function classCounts(ds: Dataset, trained: number[] | undefined): { name: string; count: number; trained: boolean }[] | null {
  if (!ds.labels) return null;
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (const l of ds.labels) counts[l] = (counts[l] ?? 0) + 1;
  const names = classNamesFor(ds, ds.numClasses);
  return counts.map((count, i) => ({ name: names[i]!, count, trained: trained ? trained.includes(i) : true }));
}

/** A strip of the first training samples (images), or the first rows of a table. */
function samples(ds: Dataset, order: Uint32Array): Pick<DatasetCardInput, 'samplesPngBase64' | 'sampleLabels' | 'table'> {
  const idx = order.slice(0, ds.kind === 'table' ? TABLE_ROWS : CARD_SAMPLES);
  if (idx.length === 0) return {};
  const names = classNamesFor(ds, ds.numClasses);
  const sampleLabels = ds.labels ? Array.from(idx, (i) => names[ds.labels![i]!]!) : undefined;
  if (ds.kind === 'table' && ds.values instanceof Float32Array) {
    const values = ds.values;
    const f = ds.channels;
    const shown = Math.min(f, TABLE_COLUMNS);
    const columns = (ds.featureNames ?? []).slice(0, shown);
    const rows = Array.from(idx, (i) => Array.from(values.subarray(i * f, i * f + shown), (v) => Number(v.toPrecision(5))));
    return { table: { columns, rows, moreColumns: f - shown }, ...(sampleLabels ? { sampleLabels } : {}) };
  }
  const norm = unitNormalization(ds);
  const png = imageStrip(toCells(batchToFloat(ds, idx, 0, idx.length, undefined, norm), idx.length, ds, norm));
  return { samplesPngBase64: png.toString('base64'), ...(sampleLabels ? { sampleLabels } : {}) };
}
