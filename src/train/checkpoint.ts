/**
 * Checkpoints: `<runDir>/checkpoint/` holds the last completed epoch, enough to continue training
 * exactly where it stopped and to evaluate or export the trained models later.
 *
 * - `weights-<epochs>-<random>.bin`: every layer weight of the compiled graph (`layer/<layer name>/<i>`),
 *   the running stage's optimizer weights (`optimizer/<i>/<name>`, in the optimizer's own order) and
 *   the stage's shuffled training order (`state/order`), in the tfjs weights encoding.
 * - `checkpoint.json`: where training stood (stage, epoch, best validation loss, shuffle rng state),
 *   the graph's SHA-256, and the spec, size and SHA-256 of the weights file it names.
 *
 * A save writes a new weights file (temp + fsync + rename), then checkpoint.json the same way, and
 * only then deletes older weights files: at every instant checkpoint.json names a complete file, so a
 * crash never leaves a half checkpoint, and readers racing a save see the old or the new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '../backend/tf';
import { CHECKPOINT_FORMAT, type CheckpointMeta, RUN_FILES, serializeRunJson } from '../core/runFormat';
import type { CompiledGraph } from '../compile/compile';
import { asWriteError, readOptionalRunJson, runFile, writeAllSync } from '../run/runFolder';
import { TrainingError } from './errors';

const CHECKPOINT_JSON = path.basename(RUN_FILES.checkpointManifest);

const LAYER_PREFIX = 'layer/';
const OPTIMIZER_PREFIX = 'optimizer/';
const ORDER_NAME = 'state/order';
const ADAM_POWERS = ['state/adam/accBeta1', 'state/adam/accBeta2'] as const;

/** A checkpoint that cannot be used: names the file and what is wrong with it. */
export class CheckpointError extends TrainingError {
  constructor(
    message: string,
    override readonly file: string,
  ) {
    super(message, file);
  }
}

/** tfjs-core's NamedTensor (what optimizers and encodeWeights take), which tfjs does not re-export. */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Where training stands at the end of an epoch (everything but the tensors). */
export interface CheckpointState {
  readonly stageIndex: number;
  readonly stageName: string;
  readonly stageEpoch: number;
  readonly stageEpochs: number;
  readonly epochsCompleted: number;
  readonly bestValLoss: number | null;
  readonly graphSha256: string;
  readonly backend: string;
  readonly optimizerName: string;
  readonly rngState: number;
  /** The stage's training order after this epoch's shuffle (the next epoch shuffles it again). */
  readonly order: Uint32Array;
}

const checkpointDir = (runDir: string): string => path.join(runDir, RUN_FILES.checkpoint);
const checkpointJsonPath = (runDir: string): string => runFile(runDir, 'checkpoint');

const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Layer weights in a stable order, keyed by layer name and weight index. */
function layerEntries(compiled: CompiledGraph): { name: string; nodeId: string; layer: tf.layers.Layer; index: number }[] {
  const entries: { name: string; nodeId: string; layer: tf.layers.Layer; index: number }[] = [];
  const seen = new Set<string>();
  for (const [nodeId, layers] of compiled.layersByNode) {
    for (const layer of layers) {
      if (seen.has(layer.name)) throw new Error(`Two layers are named "${layer.name}"; checkpoints key weights by layer name`);
      seen.add(layer.name);
      layer.weights.forEach((_, index) => entries.push({ name: `${LAYER_PREFIX}${layer.name}/${index}`, nodeId, layer, index }));
    }
  }
  return entries;
}

/**
 * tfjs' Adam keeps beta1^t and beta2^t as running products, and its setWeights recomputes them
 * with pow(), which differs in the last bits; saving the products makes a resumed run exact.
 */
function adamPowers(optimizer: tf.Optimizer): [tf.Variable, tf.Variable] | undefined {
  if (!(optimizer instanceof tf.AdamOptimizer)) return undefined;
  const fields: Record<string, unknown> = { ...optimizer };
  const [a, b] = [fields['accBeta1'], fields['accBeta2']];
  return a instanceof tf.Variable && b instanceof tf.Variable ? [a, b] : undefined;
}

/** Write to a sibling temp file, flush it to disk, then rename over the target. */
function writeDurable(file: string, data: Uint8Array): void {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAllSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asWriteError(file, e);
  }
}

/**
 * Save the compiled graph's weights, the optimizer's weights (when a stage is running) and the
 * shuffle state as the run's checkpoint. Reads every weight back from the device once.
 */
export async function saveCheckpoint(runDir: string, compiled: CompiledGraph, optimizer: tf.Optimizer | undefined, state: CheckpointState): Promise<CheckpointMeta> {
  const named: NamedTensor[] = layerEntries(compiled).map((e) => ({ name: e.name, tensor: e.layer.weights[e.index]!.read() }));
  const created: tf.Tensor[] = [];
  try {
    const optimizerWeights = optimizer ? await optimizer.getWeights() : [];
    optimizerWeights.forEach((w, i) => {
      // getWeights hands out the live accumulator variables plus a fresh iterations scalar.
      if (!(w.tensor instanceof tf.Variable)) created.push(w.tensor);
      named.push({ name: `${OPTIMIZER_PREFIX}${i}/${w.name}`, tensor: w.tensor });
    });
    const powers = optimizer ? adamPowers(optimizer) : undefined;
    powers?.forEach((v, i) => named.push({ name: ADAM_POWERS[i]!, tensor: v }));
    const order = tf.tensor1d(Int32Array.from(state.order), 'int32');
    created.push(order);
    named.push({ name: ORDER_NAME, tensor: order });
    const { data, specs } = await tf.io.encodeWeights(named);
    const bytes = new Uint8Array(data);

    const dir = checkpointDir(runDir);
    fs.mkdirSync(dir, { recursive: true });
    const weightsFile = `weights-${state.epochsCompleted}-${randomBytes(4).toString('hex')}.bin`;
    writeDurable(path.join(dir, weightsFile), bytes);
    let meta: CheckpointMeta;
    try {
      meta = writeManifest(runDir, state, weightsFile, bytes, specs);
    } catch (e) {
      // The previous checkpoint stays the checkpoint: its manifest still names its own weights.
      fs.rmSync(path.join(dir, weightsFile), { force: true });
      throw e;
    }
    for (const name of fs.readdirSync(dir)) {
      if (name !== weightsFile && /^weights-.*\.bin$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
    return meta;
  } finally {
    tf.dispose(created);
  }
}

function writeManifest(runDir: string, state: CheckpointState, weightsFile: string, bytes: Uint8Array, specs: readonly tf.io.WeightsManifestEntry[]): CheckpointMeta {
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    stageIndex: state.stageIndex,
    stageName: state.stageName,
    stageEpoch: state.stageEpoch,
    stageEpochs: state.stageEpochs,
    epochsCompleted: state.epochsCompleted,
    bestValLoss: state.bestValLoss,
    graphSha256: state.graphSha256,
    savedAt: new Date().toISOString(),
    backend: state.backend,
    optimizer: state.optimizerName,
    rngState: state.rngState >>> 0,
    trainSamples: state.order.length,
    weightsFile,
    weightsBytes: bytes.byteLength,
    weightsSha256: sha256Hex(bytes),
    weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype: s.dtype === 'int32' ? 'int32' : 'float32' })),
  };
  // The manifest goes last: until it is renamed into place the previous checkpoint stays whole.
  writeDurable(checkpointJsonPath(runDir), Buffer.from(serializeRunJson('checkpoint', meta, checkpointJsonPath(runDir)), 'utf8'));
  return meta;
}

/** checkpoint.json, validated; undefined when the run has none, a CheckpointError naming the field when it is corrupt. */
export function readCheckpointMeta(runDir: string): CheckpointMeta | undefined {
  const r = readOptionalRunJson(runDir, 'checkpoint');
  if (r.ok) return r.value ?? undefined;
  const file = checkpointJsonPath(runDir);
  // r.error is "<file>: <what is wrong>".
  throw new CheckpointError(`${file}: the checkpoint is corrupt: ${r.error.startsWith(`${file}: `) ? r.error.slice(file.length + 2) : r.error}`, file);
}

/** A checkpoint read into memory: its manifest and every tensor by name. Dispose when done. */
export interface LoadedCheckpoint {
  readonly runDir: string;
  readonly meta: CheckpointMeta;
  readonly tensors: ReadonlyMap<string, tf.Tensor>;
  dispose(): void;
}

export interface LoadCheckpointOptions {
  /** Refuse a checkpoint saved for a different graph (the run folder's graph.latent.json hash). */
  readonly graphSha256?: string;
}

function readWeightsFile(runDir: string, meta: CheckpointMeta): Buffer | undefined {
  const file = path.join(checkpointDir(runDir), meta.weightsFile);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(`${file}: cannot read the checkpoint weights (${e instanceof Error ? e.message : String(e)})`, file);
  }
}

/** Load the run's checkpoint, checking the manifest, the weights file's size and checksum, and the graph. */
export function loadCheckpoint(runDir: string, opts: LoadCheckpointOptions = {}): LoadedCheckpoint {
  const jsonFile = checkpointJsonPath(runDir);
  let meta = readCheckpointMeta(runDir);
  if (!meta) throw new CheckpointError(`${jsonFile}: no checkpoint (the run ended before its first epoch did)`, jsonFile);
  let bytes = readWeightsFile(runDir, meta);
  if (!bytes) {
    // A save may have replaced the checkpoint between the two reads: the new manifest names the new file.
    meta = readCheckpointMeta(runDir) ?? meta;
    bytes = readWeightsFile(runDir, meta);
  }
  const binFile = path.join(checkpointDir(runDir), meta.weightsFile);
  if (!bytes) throw new CheckpointError(`${binFile}: missing: ${CHECKPOINT_JSON} names it but it is not there; the checkpoint is incomplete`, binFile);
  if (opts.graphSha256 !== undefined && opts.graphSha256 !== meta.graphSha256) {
    throw new CheckpointError(
      `${jsonFile}: saved for a different graph (sha256 ${meta.graphSha256.slice(0, 12)}…) than the run's graph.latent.json (sha256 ${opts.graphSha256.slice(0, 12)}…): the run folder was edited`,
      jsonFile,
    );
  }
  if (bytes.byteLength !== meta.weightsBytes) {
    const fault = bytes.byteLength < meta.weightsBytes ? 'truncated' : 'longer than expected';
    throw new CheckpointError(`${binFile}: the checkpoint is corrupt: ${fault} (${bytes.byteLength} bytes, ${CHECKPOINT_JSON} says ${meta.weightsBytes})`, binFile);
  }
  if (sha256Hex(bytes) !== meta.weightsSha256) {
    throw new CheckpointError(`${binFile}: the checkpoint is corrupt: its SHA-256 does not match ${CHECKPOINT_JSON}`, binFile);
  }
  const expected = meta.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (expected !== bytes.byteLength) {
    throw new CheckpointError(`${jsonFile}: the checkpoint is corrupt: its weight specs describe ${expected} bytes but the weights file has ${bytes.byteLength}`, jsonFile);
  }
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  const tensors = new Map(Object.entries(tf.io.decodeWeights(buffer, meta.weights)));
  return { runDir, meta, tensors, dispose: () => tf.dispose([...tensors.values()]) };
}

const fmtShape = (shape: readonly (number | null)[]): string => `[${shape.join(', ')}]`;

/** Put the checkpoint's layer weights into the compiled graph, naming the layer on any mismatch. */
export function applyLayerWeights(compiled: CompiledGraph, ckpt: LoadedCheckpoint): void {
  const file = checkpointJsonPath(ckpt.runDir);
  const entries = layerEntries(compiled);
  const used = new Set<string>();
  const values = new Map<tf.layers.Layer, tf.Tensor[]>();
  for (const e of entries) {
    const tensor = ckpt.tensors.get(e.name);
    const variable = e.layer.weights[e.index]!;
    const where = `layer "${e.layer.name}" (block "${e.nodeId}") weight ${e.index} (${variable.originalName})`;
    if (!tensor) throw new CheckpointError(`${file}: has no value for ${where}: the checkpoint does not belong to this graph`, file);
    if (tensor.shape.length !== variable.shape.length || tensor.shape.some((d, i) => d !== variable.shape[i])) {
      throw new CheckpointError(`${file}: weight shape mismatch in ${where}: ${fmtShape(tensor.shape)} in the checkpoint, ${fmtShape(variable.shape)} in the graph`, file);
    }
    used.add(e.name);
    values.set(e.layer, [...(values.get(e.layer) ?? []), tensor]);
  }
  const extra = [...ckpt.tensors.keys()].filter((k) => k.startsWith(LAYER_PREFIX) && !used.has(k));
  if (extra.length > 0) {
    const layers = [...new Set(extra.map((k) => k.slice(LAYER_PREFIX.length, k.lastIndexOf('/'))))];
    throw new CheckpointError(`${file}: has weights for layer(s) the graph lacks: ${layers.map((l) => `"${l}"`).join(', ')}`, file);
  }
  for (const [layer, weights] of values) layer.setWeights(weights);
}

/** What `applyMatchingLayerWeights` did, layer by layer (layers without weights are left out). */
export interface MatchedLayers {
  /** Layers whose every weight was found with the same shape, and loaded. */
  readonly loaded: readonly string[];
  /** Layers the checkpoint has under the same name but with other shapes (left as they were), with the shapes. */
  readonly mismatched: readonly { readonly layer: string; readonly graph: string; readonly checkpoint: string }[];
  /** Layers the checkpoint has no weights for (left as they were). */
  readonly missing: readonly string[];
}

/**
 * Load the checkpoint's weights into the layers of `compiled` that match by name and shape (another
 * graph's checkpoint: `train --init-from`); every other layer keeps its weights. A layer is loaded
 * whole or not at all.
 */
export function applyMatchingLayerWeights(compiled: CompiledGraph, ckpt: LoadedCheckpoint): MatchedLayers {
  const byLayer = new Map<tf.layers.Layer, { index: number; name: string }[]>();
  for (const e of layerEntries(compiled)) byLayer.set(e.layer, [...(byLayer.get(e.layer) ?? []), { index: e.index, name: e.name }]);
  const loaded: string[] = [];
  const mismatched: { layer: string; graph: string; checkpoint: string }[] = [];
  const missing: string[] = [];
  for (const [layer, entries] of byLayer) {
    const tensors = entries.map((e) => ckpt.tensors.get(e.name));
    if (tensors.every((t) => t === undefined)) {
      missing.push(layer.name);
      continue;
    }
    const fits = entries.every((e, i) => {
      const t = tensors[i];
      const v = layer.weights[e.index]!;
      return t !== undefined && t.shape.length === v.shape.length && t.shape.every((d, k) => d === v.shape[k]);
    });
    if (!fits) {
      const shapes = (xs: readonly (readonly (number | null)[] | undefined)[]): string => xs.map((x) => (x ? fmtShape(x) : 'none')).join(' ');
      mismatched.push({ layer: layer.name, graph: shapes(layer.weights.map((w) => w.shape)), checkpoint: shapes(tensors.map((t) => t?.shape)) });
      continue;
    }
    layer.setWeights(tensors as tf.Tensor[]);
    loaded.push(layer.name);
  }
  return { loaded, mismatched, missing };
}

/** The optimizer's saved weights, in the optimizer's own order (the index in `optimizer/<i>/<name>`). */
function optimizerTensors(ckpt: LoadedCheckpoint): NamedTensor[] {
  return ckpt.meta.weights
    .filter((w) => w.name.startsWith(OPTIMIZER_PREFIX))
    .map((w) => {
      const rest = w.name.slice(OPTIMIZER_PREFIX.length);
      const slash = rest.indexOf('/');
      return { index: Number(rest.slice(0, slash)), name: rest.slice(slash + 1), tensor: ckpt.tensors.get(w.name)! };
    })
    .sort((a, b) => a.index - b.index)
    .map(({ name, tensor }) => ({ name, tensor }));
}

/**
 * Continue a stage's optimizer from the checkpoint. Accumulators are matched to `variables` by
 * position (that is how tfjs optimizers match them), so shapes are checked position by position.
 */
export async function restoreOptimizer(optimizer: tf.Optimizer, optimizerName: string, variables: readonly tf.Variable[], ckpt: LoadedCheckpoint): Promise<void> {
  const file = checkpointJsonPath(ckpt.runDir);
  if (ckpt.meta.optimizer !== optimizerName) {
    throw new CheckpointError(`${file}: the checkpoint's optimizer is ${ckpt.meta.optimizer} but stage "${ckpt.meta.stageName}" uses ${optimizerName}`, file);
  }
  const weights = optimizerTensors(ckpt);
  if (weights.length === 0) return;
  const slots = weights.slice(1);
  if (variables.length === 0 ? slots.length > 0 : slots.length % variables.length !== 0) {
    throw new CheckpointError(`${file}: has ${slots.length} optimizer accumulator(s), which does not fit the ${variables.length} trainable weights of stage "${ckpt.meta.stageName}"`, file);
  }
  slots.forEach((w, i) => {
    const v = variables[i % variables.length]!;
    if (w.tensor.shape.length !== v.shape.length || w.tensor.shape.some((d: number, k: number) => d !== v.shape[k])) {
      throw new CheckpointError(`${file}: optimizer weight shape mismatch for ${v.name}: ${fmtShape(w.tensor.shape)} in the checkpoint, ${fmtShape(v.shape)} in the graph`, file);
    }
  });
  await optimizer.setWeights(weights);
  const powers = adamPowers(optimizer);
  powers?.forEach((v, i) => {
    const saved = ckpt.tensors.get(ADAM_POWERS[i]!);
    if (saved && saved.size === 1) v.assign(saved.reshape(v.shape));
  });
}

/** The saved training order, when it is a permutation of `trainIdx` (same samples as the checkpoint's run). */
export function checkpointOrder(ckpt: LoadedCheckpoint, trainIdx: Uint32Array): Uint32Array | undefined {
  const t = ckpt.tensors.get(ORDER_NAME);
  if (!t || t.size !== trainIdx.length) return undefined;
  const order = Uint32Array.from(t.dataSync() as Int32Array);
  const a = Uint32Array.from(order).sort();
  const b = Uint32Array.from(trainIdx).sort();
  return a.every((v, i) => v === b[i]) ? order : undefined;
}
