/**
 * `latent-studio import <model> --out <graph.latent.json>`: a TensorFlow.js layers model (ours or
 * anyone's model.json), a Keras 3 `.keras` or a Keras 2 `.h5` file as a graph file, and its weights as the graph's starting point: a folder
 * beside the graph (`<name>.weights/`) holding a checkpoint in the run-folder format, which the
 * graph names as its `training.initFrom`: both engines load it, layer by layer, before the first
 * stage (as `train --init-from` does). Host-safe: no TensorFlow.js.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText, serializeGraph } from '../core/canonical';
import { UserError } from '../core/errors';
import { graphFileName } from '../core/fileNames';
import { CHECKPOINT_FORMAT, type CheckpointMeta, RUN_FILES } from '../core/runFormat';
import { ImportError, type KerasModelConfig, kerasToGraph } from '../import/keras';
import { readKerasH5, readKerasZip } from './kerasFiles';
import { type NamedWeight, parseTfjsModelJson, readWeights } from '../export/tfjsModel';
import { notAFolder, writeFileAtomic, writeRunJson } from './runFolder';

export interface ImportRequest {
  readonly model: string;
  readonly out: string;
  readonly partial?: boolean;
  readonly overwrite?: boolean;
  readonly name?: string;
  /** Group a recognisable autoencoder into Encoder / Bottleneck / Decoder blocks (default true). */
  readonly group?: boolean;
}

export interface ImportedModel {
  readonly graphFile: string;
  readonly weightsDir: string;
  readonly blocks: number;
  readonly params: number;
  readonly skipped: readonly string[];
  /** The layers were grouped into Encoder / Bottleneck / Decoder blocks. */
  readonly grouped: boolean;
}

/** Where a layer's weight goes in our layers' weights, by its Keras name. */
const WEIGHT_INDEX: Record<string, number> = { kernel: 0, bias: 1, gamma: 0, beta: 1, moving_mean: 2, moving_variance: 3 };

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function readModelFiles(file: string): { json: ReturnType<typeof parseTfjsModelJson>; weights: Map<string, NamedWeight> } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file);
  }
  const json = parseTfjsModelJson(text, file);
  const shards = json.weightsManifest.flatMap((g) => g.paths).map((p) => {
    const shard = path.join(path.dirname(file), p);
    try {
      return fs.readFileSync(shard);
    } catch {
      throw new UserError(`${shard}: missing: ${path.basename(file)} names it as a weights file`, shard);
    }
  });
  return { json, weights: readWeights(json, new Uint8Array(Buffer.concat(shards)), path.join(path.dirname(file), json.weightsManifest[0]?.paths[0] ?? 'weights.bin')) };
}

/** The model's Keras config and weights, from a tfjs model.json, a Keras 3 .keras or a Keras 2 .h5 file. */
async function readModel(source: string): Promise<{ config: KerasModelConfig; weights: Map<string, NamedWeight> }> {
  if (!fs.existsSync(source)) throw new UserError(`${source}: cannot be read (ENOENT)`, source);
  if (/\.keras$/i.test(source)) return readKerasZip(source);
  if (/\.(h5|hdf5)$/i.test(source)) return readKerasH5(source);
  const { json, weights } = readModelFiles(source);
  return { config: { class_name: json.modelTopology.class_name, config: json.modelTopology.config }, weights };
}

export async function importModel(req: ImportRequest): Promise<ImportedModel> {
  const source = path.resolve(req.model);
  const { config, weights } = await readModel(source);
  let imported;
  try {
    imported = kerasToGraph(config, { source: path.basename(source), partial: req.partial, name: req.name, group: req.group });
  } catch (e) {
    if (e instanceof ImportError) throw new UserError(e.message, source);
    throw e;
  }
  const graphFile = path.resolve(graphFileName(req.out));
  const weightsDir = graphFile.replace(/\.latent\.json$/, '.weights');
  for (const target of [graphFile, weightsDir]) {
    if (fs.existsSync(target) && !req.overwrite) throw new UserError(`${target} already exists: choose another name or overwrite it`, target);
  }
  const notFolder = notAFolder(path.dirname(graphFile));
  if (notFolder) throw new UserError(`${notFolder}: choose a folder for the graph`, graphFile);

  // The weights, named as our layers name theirs (layer/<block id>/<index>), checked against the graph.
  const specs: CheckpointMeta['weights'] = [];
  const parts: Float32Array[] = [];
  for (const [name, w] of weights) {
    const slash = name.lastIndexOf('/');
    const layer = name.slice(0, slash);
    const short = name.slice(slash + 1);
    const block = imported.blockOf.get(layer);
    if (block === undefined) {
      if (imported.skipped.length > 0) continue; // a layer left out with --partial
      throw new UserError(`${source}: weight "${name}" belongs to no layer of the model`, source);
    }
    const index = WEIGHT_INDEX[short];
    if (index === undefined) throw new UserError(`${source}: weight "${name}": "${short}" is not a weight the blocks have (kernel, bias, gamma, beta, moving_mean, moving_variance)`, source);
    specs.push({ name: `layer/${block}/${index}`, shape: [...w.shape], dtype: 'float32' });
    parts.push(w.values);
  }
  // The graph starts from the model's weights (training.initFrom, relative to the graph file): training and evaluating it begin with the model itself.
  const document = { ...imported.document, training: { ...(imported.document.training as Record<string, unknown>), initFrom: path.basename(weightsDir) } };
  const text = serializeGraph(document);
  const parsed = parseJsonText(text);
  const analysis = parsed.ok ? analyzeGraph(parsed.value) : undefined;
  const params = analysis?.totals.params ?? 0;
  const given = parts.reduce((n, p) => n + p.length, 0);
  if (analysis?.ok && imported.skipped.length === 0 && given !== params) {
    throw new UserError(`${source}: its weights hold ${given.toLocaleString('en-US')} values but the layers of its config need ${params.toLocaleString('en-US')}: the weights do not belong to this config`, source);
  }
  const bytes = new Uint8Array(given * 4);
  let at = 0;
  for (const p of parts) {
    bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  const weightsFile = 'weights-imported.bin';
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    stageIndex: 0,
    stageName: 'imported',
    stageEpoch: 0,
    stageEpochs: 1,
    epochsCompleted: 0,
    bestValLoss: null,
    graphSha256: sha256(text),
    savedAt: new Date().toISOString(),
    backend: 'imported',
    optimizer: 'none',
    rngState: 0,
    trainSamples: 0,
    weightsFile,
    weightsBytes: bytes.byteLength,
    weightsSha256: sha256(bytes),
    weights: specs,
  };
  const checkpointDir = path.join(weightsDir, RUN_FILES.checkpoint);
  fs.mkdirSync(checkpointDir, { recursive: true });
  writeFileAtomic(path.join(checkpointDir, weightsFile), bytes);
  writeRunJson(weightsDir, 'checkpoint', meta);
  writeFileAtomic(graphFile, text);
  return { graphFile, weightsDir, blocks: (imported.document.nodes as unknown[]).length, params, skipped: imported.skipped, grouped: imported.grouped };
}
