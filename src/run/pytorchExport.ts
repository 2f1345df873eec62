/**
 * Export as PyTorch: a graph (or a run's graph and trained weights) written as Python a user can
 * read and run without Latent Studio: `model.py` and `train.py` (src/export/pytorch), a built-in
 * dataset as NPZ beside them, and with a run
 * its weights as `weights.json` + `weights.bin` (the checkpoint's layer weights, the format
 * model.py's load_tfjs_weights reads) and its `normalization.json`. Nothing that exists is
 * replaced unless asked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { UserError } from '../core/errors';
import { RUN_FILES } from '../core/runFormat';
import { graphProblemsSentence } from '../core/problems';
import { LATENT_STUDIO_VERSION } from '../core/version';
import { writeBuiltinNpz } from '../export/pytorch/builtinData';
import { pytorchModelCode } from '../export/pytorch/modelCode';
import { pytorchTrainCode } from '../export/pytorch/trainCode';
import { BUILTIN_DATASETS } from '../core/format';
import { type TfjsModels, TfjsModelsSchema, type TopologyRequest } from '../core/protocol';
import { notAFolder, readGraphSnapshot, readOptionalRunJson, sha256, writeFileAtomic } from './runFolder';

export interface PytorchExportRequest {
  /** The graph file; optional with `runDir` (the run holds the graph it trained). */
  readonly graphFile?: string;
  /** A run whose trained weights go with the code. */
  readonly runDir?: string;
  readonly outDir: string;
  readonly overwrite?: boolean;
  /** The graph's models in the tfjs layers format (a worker's topology job): written as tfjs-models.json, from which train.py writes a run's model/. */
  readonly describeModels?: DescribeModels;
}

/** Asks tfjs for a graph's models without weights (src/run/client.ts tfjsTopologies). */
export type DescribeModels = (request: TopologyRequest) => Promise<TfjsModels>;

/** tfjs-models.json's text for a graph, or why there is none (train.py then writes no model/ and says so). */
export async function describedModels(describe: DescribeModels | undefined, graphText: string, graphPath: string): Promise<{ text?: string; warning?: string }> {
  if (!describe) return {};
  try {
    const models = TfjsModelsSchema.parse(await describe({ graphText, graphPath }));
    return { text: `${JSON.stringify(models)}\n` };
  } catch (e) {
    return { warning: `${TFJS_MODELS} was not written, so train.py writes no model/ (the TensorFlow.js layers format): ${e instanceof Error ? e.message : String(e)}` };
  }
}

export interface PytorchExport {
  readonly outDir: string;
  /** Every file written, absolute. */
  readonly files: readonly string[];
  readonly models: readonly string[];
  /** Layers whose trained weights were written (with a run). */
  readonly weights: number;
  /** What was left out, and why (tfjs-models.json when tfjs could not describe the models). */
  readonly warnings: readonly string[];
}

export const WEIGHTS_MANIFEST = 'weights.json';
export const WEIGHTS_DATA = 'weights.bin';
/** The graph's models in the tfjs layers format without weights, beside train.py (trainRuntime.ts write_tfjs_model). */
export const TFJS_MODELS = 'tfjs-models.json';

interface Source {
  readonly text: string;
  /** How model.py names where it came from. */
  readonly label: string;
}

function graphSource(req: PytorchExportRequest): Source {
  const fromFile = (file: string): Source => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError(`${file}: cannot read the graph (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file);
    }
    return { text, label: path.basename(file) };
  };
  if (!req.runDir) {
    if (!req.graphFile) throw new UserError('Export as PyTorch needs a graph file or a run folder');
    return fromFile(req.graphFile);
  }
  const snapshot = readGraphSnapshot(req.runDir);
  if (!snapshot.ok) throw new UserError(`${snapshot.error}: the run's graph is needed to write its code`, req.runDir);
  if (req.graphFile) {
    const own = fromFile(req.graphFile);
    if (sha256(own.text) !== sha256(snapshot.value)) {
      const same = JSON.stringify(analyzeGraph(safeJson(own.text)).document?.nodes) === JSON.stringify(analyzeGraph(safeJson(snapshot.value)).document?.nodes);
      if (!same) throw new UserError(`${req.graphFile} has changed since ${req.runDir} was trained: leave the graph out to export the run's own graph, or train the graph again`, req.graphFile);
    }
  }
  return { text: snapshot.value, label: `${path.basename(req.runDir)}/${RUN_FILES.graph}` };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The checkpoint's layer weights (not the optimizer's or the shuffle state) as a weights manifest and data. */
function trainedWeights(runDir: string): { manifest: string; data: Uint8Array; layers: number } {
  const meta = readOptionalRunJson(runDir, 'checkpoint');
  if (!meta.ok) throw new UserError(`${meta.error}: its weights cannot be exported`, runDir);
  if (!meta.value) throw new UserError(`${runDir} has no checkpoint yet (no completed epoch): train it first, or export the graph without --run`, runDir);
  const file = path.join(runDir, RUN_FILES.checkpoint, meta.value.weightsFile);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read the checkpoint's weights (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file);
  }
  const kept: { name: string; shape: number[]; dtype: 'float32' | 'int32' }[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const w of meta.value.weights) {
    const size = w.shape.reduce((a, b) => a * b, 1) * 4;
    if (offset + size > bytes.length) throw new UserError(`${file} is truncated: ${w.name} needs bytes ${offset}–${offset + size} of ${bytes.length}`, file);
    if (w.name.startsWith('layer/')) {
      kept.push(w);
      parts.push(bytes.subarray(offset, offset + size));
    }
    offset += size;
  }
  const data = Buffer.concat(parts);
  const layers = new Set(kept.map((w) => w.name.split('/')[1])).size;
  return { manifest: `${JSON.stringify({ weightsFile: WEIGHTS_DATA, weights: kept }, null, 1)}\n`, data, layers };
}

export async function exportPytorch(req: PytorchExportRequest): Promise<PytorchExport> {
  const source = graphSource(req);
  const where = req.graphFile ?? path.join(req.runDir ?? '', RUN_FILES.graph);
  const parsed = parseJsonText(source.text);
  if (!parsed.ok) throw new UserError(`${where}:${parsed.error.line}:${parsed.error.column}: invalid JSON: ${parsed.error.message}`, where);
  const analysis = analyzeGraph(parsed.value);
  if (!analysis.ok) throw new UserError(graphProblemsSentence(where, analysis.problems, { before: 'exporting', list: true }), where);

  const outDir = path.resolve(req.outDir);
  const notFolder = notAFolder(outDir);
  if (notFolder) throw new UserError(`${notFolder}: choose a folder to export into`, outDir);
  const files = new Map<string, string | Uint8Array>();
  files.set('model.py', pytorchModelCode(analysis, { graphFile: source.label, version: LATENT_STUDIO_VERSION }));
  // Relative dataset paths start at the graph file's folder: a run's own graph names it in config.json.
  const runConfig = req.runDir ? readOptionalRunJson(req.runDir, 'config') : undefined;
  const graphPath = req.graphFile ? path.resolve(req.graphFile) : runConfig?.ok && runConfig.value ? runConfig.value.graphFile : path.join(path.resolve(req.runDir!), RUN_FILES.graph);
  files.set('train.py', pytorchTrainCode(analysis, { graphText: source.text, graphPath, graphFile: source.label, version: LATENT_STUDIO_VERSION }));
  const warnings: string[] = [];
  const described = await describedModels(req.describeModels, source.text, graphPath);
  if (described.text) files.set(TFJS_MODELS, described.text);
  if (described.warning) warnings.push(described.warning);
  let layers = 0;
  if (req.runDir) {
    const w = trainedWeights(req.runDir);
    files.set(WEIGHTS_MANIFEST, w.manifest);
    files.set(WEIGHTS_DATA, w.data);
    layers = w.layers;
    const norm = readOptionalRunJson(req.runDir, 'normalization');
    if (!norm.ok) throw new UserError(`${norm.error}; the exported code would not know how to normalize its inputs`, req.runDir);
    if (norm.value) files.set(RUN_FILES.normalization, `${JSON.stringify(norm.value, null, 2)}\n`);
  }
  const existing = [...files.keys()].map((f) => path.join(outDir, f)).filter((f) => fs.existsSync(f));
  if (existing.length && !req.overwrite) {
    throw new UserError(`${existing.map((f) => path.basename(f)).join(', ')} already ${existing.length === 1 ? 'exists' : 'exist'} in ${outDir}: choose another folder or overwrite`, existing[0]);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, content] of files) {
    const file = path.join(outDir, name);
    writeFileAtomic(file, content);
    written.push(file);
  }
  // A built-in dataset goes along as NPZ (train.py reads it beside itself): the script runs anywhere.
  const builtin = BUILTIN_DATASETS.find((b) => b === analysis.document!.training.dataset);
  if (builtin) {
    const file = path.join(outDir, `${builtin}.npz`);
    if (!fs.existsSync(file) || req.overwrite) await writeBuiltinNpz(builtin, file);
    written.push(file);
  }
  return { outDir, files: written, models: analysis.models.map((m) => m.name), weights: layers, warnings };
}
