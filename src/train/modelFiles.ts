/**
 * Saves and loads tf.LayersModels as a folder in the standard tfjs layers format
 * (model.json + weights.bin, the exact layout tfjs-node's `file://` handler writes), using
 * plain node:fs because pure-JS @tensorflow/tfjs has no file-system IO handler.
 */
import * as tf from '../backend/tf';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { UserError } from '../core/errors';
import { WriteError, asWriteError } from '../run/runFolder';
import * as path from 'node:path';
// Registers Latent Studio's own layers (MaskingNoise, Sampling), so models that use them load.
import '../compile/customLayers';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** A model folder problem a person can act on: names the file and what is wrong with it. */
export class ModelFileError extends UserError {
  constructor(
    message: string,
    override readonly file: string,
    options?: ErrorOptions,
  ) {
    super(message, file, options);
  }
}

export interface SavedModelFiles {
  /** Absolute path of the written model.json. */
  readonly modelJson: string;
  /** Absolute path of the written weights.bin. */
  readonly weightsBin: string;
  /** Total bytes on disk of both files. */
  readonly bytes: number;
}

const WEIGHT_DTYPES: ReadonlySet<string> = new Set(['float32', 'int32', 'bool', 'string', 'complex64']);
const QUANT_DTYPES: ReadonlySet<string> = new Set(['uint8', 'uint16', 'float16']);
/** Bytes per element as tfjs' decodeWeights reads them. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/**
 * tf.io.IOHandler for one folder. `save` writes weights.bin then model.json, each via a
 * temporary file and a rename, so a crash never leaves a half-written file under the real name.
 */
export class FolderModelIO implements tf.io.IOHandler {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  get modelJsonPath(): string {
    return path.join(this.dir, MODEL_JSON);
  }

  get weightsBinPath(): string {
    return path.join(this.dir, WEIGHTS_BIN);
  }

  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      const file = this.modelJsonPath;
      throw new ModelFileError(`${file}: binary (graph-model) topologies cannot be saved here`, file);
    }
    const weightData = joinWeightData(artifacts.weightData);
    // Same fields and order as tfjs-node's NodeFileSystem, so every stock loader accepts it.
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology ?? {},
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
    };
    if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
    if (artifacts.signature != null) modelJson.signature = artifacts.signature;
    if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
    if (artifacts.modelInitializer != null) modelJson.modelInitializer = artifacts.modelInitializer;
    if (artifacts.initializerSignature != null) {
      modelJson.initializerSignature = artifacts.initializerSignature;
    }

    await mkdir(this.dir, { recursive: true });
    // Weights first: a model.json must never point at weights that are not there yet.
    await writeAtomic(this.weightsBinPath, new Uint8Array(weightData));
    await writeAtomic(this.modelJsonPath, Buffer.from(JSON.stringify(modelJson), 'utf8'));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const jsonPath = this.modelJsonPath;
    const text = await readOrExplain(jsonPath, 'model.json');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString('utf8'));
    } catch (e) {
      throw new ModelFileError(`${jsonPath}: not valid JSON (${errorMessage(e)})`, jsonPath, { cause: e });
    }
    const modelJson = validateModelJson(parsed, jsonPath);
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: ArrayBuffer[] = [];
    for (const group of modelJson.weightsManifest) {
      const files = group.paths.map((p) => this.resolveWeightsPath(p, jsonPath));
      const contents: Buffer[] = [];
      for (const file of files) contents.push(await readOrExplain(file, 'weights file'));
      const actual = contents.reduce((n, b) => n + b.byteLength, 0);
      const expected = groupByteLength(group.weights);
      // String weights have no fixed size, so only fixed-size groups can be checked exactly.
      if (expected !== null && actual !== expected) {
        const named = files.join(', ');
        const fault = actual < expected ? 'truncated' : 'longer than expected';
        throw new ModelFileError(
          `${named}: ${fault}: has ${actual} bytes but ${MODEL_JSON} describes ${expected} bytes ` +
            `for ${group.weights.length} weights`,
          files[0] ?? jsonPath,
        );
      }
      for (const b of contents) buffers.push(toArrayBuffer(b));
      specs.push(...group.weights);
    }
    return tf.io.getModelArtifactsForJSONSync(modelJson, specs, joinWeightData(buffers));
  }

  /** Manifest paths are relative to model.json; refuse ones that leave the folder. */
  private resolveWeightsPath(p: string, jsonPath: string): string {
    const file = path.resolve(this.dir, p);
    const rel = path.relative(this.dir, file);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      const fault = `weightsManifest path "${p}" points outside the model folder`;
      throw new ModelFileError(`${jsonPath}: ${fault}`, jsonPath);
    }
    return file;
  }
}

/** Writes `model` as `dir/model.json` + `dir/weights.bin` (creating `dir`). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<SavedModelFiles> {
  const io = new FolderModelIO(dir);
  await model.save(io);
  const [jsonStat, binStat] = await Promise.all([stat(io.modelJsonPath), stat(io.weightsBinPath)]);
  return { modelJson: io.modelJsonPath, weightsBin: io.weightsBinPath, bytes: jsonStat.size + binStat.size };
}

/** Loads a model folder written by saveModel, tfjs-node, or the tfjs converter's layers format. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const io = new FolderModelIO(dir);
  try {
    return await tf.loadLayersModel(io);
  } catch (e) {
    // The handler already names the file and fault; anything else came from building the model.
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(
      `${io.modelJsonPath}: tfjs could not build a model from it (${errorMessage(e)})`,
      io.modelJsonPath,
      { cause: e },
    );
  }
}

type CheckedModelJson = tf.io.ModelJSON & { weightsManifest: tf.io.WeightsManifestConfig };

/** Checks the parts of model.json tfjs relies on, naming the first fault found. */
function validateModelJson(value: unknown, file: string): CheckedModelJson {
  const fail = (fault: string): never => {
    throw new ModelFileError(`${file}: ${fault}`, file);
  };
  if (!isRecord(value)) return fail('expected a JSON object');
  const { modelTopology, weightsManifest, format } = value;
  if (format !== undefined && format !== 'layers-model') {
    fail(
      `format is ${JSON.stringify(format)}, expected "layers-model" ` +
        '(graph models cannot be loaded as layers models)',
    );
  }
  if (!isRecord(modelTopology)) return fail('modelTopology is missing or not an object');
  // Keras topologies are either {class_name, config} or wrapped in {model_config: {...}}.
  const config = isRecord(modelTopology['model_config']) ? modelTopology['model_config'] : modelTopology;
  if (typeof config['class_name'] !== 'string' || !isRecord(config['config'])) {
    fail('modelTopology has no Keras class_name/config; this is not a layers model');
  }
  if (!Array.isArray(weightsManifest)) return fail('weightsManifest is missing or not an array');
  for (const [g, group] of (weightsManifest as unknown[]).entries()) {
    const where = `weightsManifest[${g}]`;
    if (!isRecord(group)) return fail(`${where} is not an object`);
    const { paths, weights } = group;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p !== '')) {
      fail(`${where}.paths must be an array of file names`);
    }
    if (!Array.isArray(weights)) return fail(`${where}.weights is not an array`);
    (weights as unknown[]).forEach((w, i) => checkWeightEntry(w, `${where}.weights[${i}]`, fail));
  }
  return value as unknown as CheckedModelJson;
}

function checkWeightEntry(w: unknown, where: string, fail: (fault: string) => never): void {
  if (!isRecord(w)) fail(`${where} is not an object`);
  const entry = w as Record<string, unknown>;
  if (typeof entry['name'] !== 'string') fail(`${where}.name is not a string`);
  const shape = entry['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    fail(`${where}.shape must be an array of non-negative integers`);
  }
  if (typeof entry['dtype'] !== 'string' || !WEIGHT_DTYPES.has(entry['dtype'])) {
    fail(`${where}.dtype ${JSON.stringify(entry['dtype'])} is not a tfjs dtype`);
  }
  const q = entry['quantization'];
  if (q !== undefined && (!isRecord(q) || typeof q['dtype'] !== 'string' || !QUANT_DTYPES.has(q['dtype']))) {
    fail(`${where}.quantization has no valid dtype (uint8, uint16 or float16)`);
  }
}

/** Bytes a manifest group's weights occupy, or null when a string weight makes it variable. */
function groupByteLength(weights: readonly tf.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const w of weights) {
    const dtype = w.quantization?.dtype ?? w.dtype;
    const bytes = DTYPE_BYTES[dtype];
    if (bytes === undefined) return null;
    total += w.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  return total;
}

/** weightData is ArrayBuffer | ArrayBuffer[] since tfjs 4.x; files hold one contiguous blob. */
function joinWeightData(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return tf.io.CompositeArrayBuffer.join(data);
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  // Node Buffers may share a larger pooled ArrayBuffer, so copy exactly this file's bytes.
  const out = new ArrayBuffer(b.byteLength);
  new Uint8Array(out).set(b);
  return out;
}

/** Write to a sibling temp file, flush it, then rename over the target (atomic on one volume). */
async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    const write = asWriteError(file, e);
    throw write instanceof WriteError ? write : new ModelFileError(`${file}: could not write (${errorMessage(e)})`, file, { cause: e });
  }
}

async function readOrExplain(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = isRecord(e) ? e['code'] : undefined;
    const fault =
      code === 'ENOENT'
        ? `${what} not found`
        : code === 'EISDIR'
          ? `${what} is a directory`
          : `cannot read ${what} (${errorMessage(e)})`;
    throw new ModelFileError(`${file}: ${fault}`, file, { cause: e });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
