/**
 * Keras model files, read for `import`: a Keras 2 HDF5 file (`model.save("x.h5")`: the model's
 * JSON config in the root's `model_config` attribute, each layer's weights under
 * `model_weights/<layer>/` in the order of its `weight_names`) and a Keras 3 `.keras` file (a zip
 * of `config.json` and `model.weights.h5`, each layer's variables under `layers/<snake_case class
 * name>[_n]/vars/<i>` in the order the layers are listed). HDF5 is read with h5wasm (the HDF5
 * library compiled to WebAssembly, loaded only when a Keras file is imported), the zip with yauzl.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yauzl from 'yauzl';
import { UserError } from '../core/errors';
import type { NamedWeight } from '../export/tfjsModel';
import type { KerasLayerConfig, KerasModelConfig } from '../import/keras';

type H5 = typeof import('h5wasm/node');

async function h5wasm(): Promise<H5> {
  // Literal specifier: the webpack config keeps it a native import() (an ES module with its wasm inside).
  const h5 = await import('h5wasm/node');
  await h5.ready;
  return h5;
}

export interface KerasModelFile {
  readonly config: KerasModelConfig;
  readonly weights: Map<string, NamedWeight>;
}

/** Keras' own naming of a layer class in .keras weight files (keras.src.utils.naming.to_snake_case). */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The short names of a layer's weights in our (and Keras') order. */
function shortNames(className: string, count: number): string[] {
  if (className === 'BatchNormalization') return ['gamma', 'beta', 'moving_mean', 'moving_variance'].slice(0, count);
  return ['kernel', 'bias'].slice(0, count);
}

function asFloat32(value: unknown, where: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array) return Float32Array.from(value);
  throw new Error(`${where} is not a float array`);
}

function parseConfig(text: string, where: string, file: string): KerasModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: ${where} is not JSON (${e instanceof Error ? e.message : String(e)})`, file);
  }
  const layers = (raw as { config?: { layers?: unknown } } | null)?.config?.layers;
  if (typeof raw !== 'object' || raw === null || typeof (raw as { class_name?: unknown }).class_name !== 'string' || !Array.isArray(layers)) {
    throw new UserError(`${file}: ${where} is not a Keras model config (class_name and config.layers)`, file);
  }
  for (const [i, l] of (layers as unknown[]).entries()) {
    const layer = l as { class_name?: unknown; config?: { name?: unknown } } | null;
    if (typeof layer?.class_name !== 'string' || typeof layer.config?.name !== 'string') throw new UserError(`${file}: ${where}: layer ${i + 1} has no class_name or name`, file);
  }
  return { class_name: (raw as { class_name: string }).class_name, config: { name: (raw as { config: { name?: string } }).config.name, layers: (layers as KerasLayerConfig[]).map(normalizeKeras3Layer) } };
}

/**
 * Keras 3 writes a functional layer's inputs as `{args: [{config: {keras_history: [name, 0, 0]}}]}`
 * and an input's shape as `batch_shape`; the graph reader takes Keras 2's `[[name, 0, 0, {}]]`.
 */
function normalizeKeras3Layer(layer: KerasLayerConfig): KerasLayerConfig {
  const nodes = layer.inbound_nodes as unknown;
  if (!Array.isArray(nodes) || nodes.every((n) => Array.isArray(n))) return layer;
  const converted = nodes.map((node: unknown) => {
    const args = (node as { args?: unknown[] } | null)?.args ?? [];
    const refs: unknown[][] = [];
    const visit = (a: unknown): void => {
      if (Array.isArray(a)) a.forEach(visit);
      else if (typeof a === 'object' && a !== null) {
        const history = (a as { config?: { keras_history?: unknown } }).config?.keras_history;
        if (Array.isArray(history)) refs.push([history[0], history[1] ?? 0, history[2] ?? 0, {}]);
      }
    };
    args.forEach(visit);
    return refs;
  });
  return { ...layer, inbound_nodes: converted };
}

/** The HDF5 signature, at the start of the file or after a user block of 512, 1024, 2048… bytes. */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

function isHdf5(bytes: Uint8Array): boolean {
  for (let at = 0; at + 8 <= bytes.byteLength; at = at === 0 ? 512 : at * 2) {
    if (Buffer.from(bytes.subarray(at, at + 8)).equals(HDF5_SIGNATURE)) return true;
  }
  return false;
}

/** What the HDF5 library threw (h5wasm throws strings and Errors), as a sentence about `file`. */
function damaged(file: string, e: unknown): UserError {
  if (e instanceof UserError) return e;
  return new UserError(`${file}: a damaged HDF5 file (${e instanceof Error ? e.message : String(e)})`, file);
}

/** A Keras 2 .h5 file written by model.save(). */
export async function readKerasH5(file: string): Promise<KerasModelFile> {
  const head = Buffer.alloc(4096);
  const fd = fs.openSync(file, 'r');
  const got = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  if (!isHdf5(head.subarray(0, got))) throw new UserError(`${file}: not an HDF5 file (Keras .h5 files start with the HDF5 signature)`, file);
  const h5 = await h5wasm();
  let f: InstanceType<H5['File']>;
  try {
    f = new h5.File(file, 'r');
  } catch (e) {
    throw damaged(file, e);
  }
  try {
    return readH5Model(h5, f, file);
  } catch (e) {
    throw damaged(file, e);
  } finally {
    f.close();
  }
}

function readH5Model(h5: H5, f: InstanceType<H5['File']>, file: string): KerasModelFile {
  const attr = f.attrs.model_config;
  if (!attr) {
    throw new UserError(`${file}: has no model_config: it holds weights only (model.save_weights); save the whole model with model.save("${path.basename(file)}")`, file);
  }
  const config = parseConfig(String(attr.value), 'its model_config', file);
  const group = f.get('model_weights');
  if (!(group instanceof h5.Group)) throw new UserError(`${file}: has no model_weights group`, file);
  const weights = new Map<string, NamedWeight>();
  for (const layer of config.config.layers) {
    const name = layer.config.name;
    const g = group.get(name);
    if (!(g instanceof h5.Group)) continue;
    const names = g.attrs.weight_names?.value;
    const list = Array.isArray(names) ? names.map(String) : typeof names === 'string' ? [names] : [];
    const shorts = shortNames(layer.class_name, list.length);
    list.forEach((wn, i) => {
      const ds = g.get(wn);
      if (!(ds instanceof h5.Dataset)) throw new UserError(`${file}: model_weights/${name}/${wn} is missing`, file);
      weights.set(`${name}/${shorts[i] ?? wn}`, { shape: ds.shape ?? [], values: asFloat32(ds.value, `model_weights/${name}/${wn}`) });
    });
  }
  return { config, weights };
}

function readZip(file: string, wanted: readonly string[]): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(new UserError(`${file}: not a .keras file (not a zip archive, or a truncated one)`, file));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!wanted.includes(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(new UserError(`${file}: ${entry.fileName} cannot be read from the archive`, file));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', () => reject(new UserError(`${file}: ${entry.fileName} is damaged in the archive`, file)));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', () => reject(new UserError(`${file}: a damaged zip archive`, file)));
      zip.readEntry();
    });
  });
}

/** A Keras 3 .keras file written by model.save(). */
export async function readKerasZip(file: string): Promise<KerasModelFile> {
  const entries = await readZip(file, ['config.json', 'model.weights.h5']);
  const configText = entries.get('config.json');
  const weightsBytes = entries.get('model.weights.h5');
  if (!configText) throw new UserError(`${file}: has no config.json: not a Keras 3 model file`, file);
  if (!weightsBytes) throw new UserError(`${file}: has no model.weights.h5: the model was saved without its weights`, file);
  const config = parseConfig(configText.toString('utf8'), 'config.json', file);
  const h5 = await h5wasm();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-keras-'));
  const weightsFile = path.join(tmp, 'model.weights.h5');
  fs.writeFileSync(weightsFile, weightsBytes);
  let f: InstanceType<H5['File']> | undefined;
  try {
    if (!isHdf5(weightsBytes)) throw new UserError(`${file}: its model.weights.h5 is not an HDF5 file`, file);
    try {
      f = new h5.File(weightsFile, 'r');
    } catch (e) {
      throw damaged(`${file}: model.weights.h5`, e);
    }
    const weights = new Map<string, NamedWeight>();
    const used = new Map<string, number>();
    for (const layer of config.config.layers) {
      // Keras names each layer's group after its class, numbered in order: layers/dense, layers/dense_1, …
      const base = toSnakeCase(layer.class_name);
      const n = used.get(base);
      used.set(base, n === undefined ? 0 : n + 1);
      const key = n === undefined ? base : `${base}_${n + 1}`;
      const vars = f.get(`layers/${key}/vars`);
      if (!(vars instanceof h5.Group)) continue;
      const count = vars.keys().length;
      const shorts = shortNames(layer.class_name, count);
      for (let i = 0; i < count; i++) {
        const ds = vars.get(String(i));
        if (!(ds instanceof h5.Dataset)) throw new UserError(`${file}: model.weights.h5: layers/${key}/vars/${i} is missing`, file);
        weights.set(`${layer.config.name}/${shorts[i] ?? String(i)}`, { shape: ds.shape ?? [], values: asFloat32(ds.value, `layers/${key}/vars/${i}`) });
      }
    }
    return { config, weights };
  } catch (e) {
    throw damaged(file, e);
  } finally {
    f?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
