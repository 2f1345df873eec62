/**
 * `export --run <runDir> --format onnx` and Export Model… → ONNX: the worker writes the run's
 * models in the TensorFlow.js layers format into a scratch folder (the same job as a tfjs export),
 * and each becomes `<out>/<model>.onnx` (src/export/onnx.ts) with the run's metadata: the graph's
 * name, the normalisation statistics, the class names and, when Detect Anomalies ran, its threshold.
 * Host-safe: no TensorFlow.js here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import { LATENT_STUDIO_VERSION } from '../core/version';
import { ONNX_OPSET, tfjsToOnnx } from '../export/onnx';
import { parseTfjsModelJson, readWeights } from '../export/tfjsModel';
import { type WorkerOptions, exportRun } from './client';
import { notAFolder, readOptionalRunJson, writeFileAtomic } from './runFolder';

/** The opset the files are written in (for the host's words about them). */
export { ONNX_OPSET };

export interface OnnxExportRequest {
  readonly runDir: string;
  readonly outDir: string;
  readonly overwrite: boolean;
}

export interface ExportedOnnxModel {
  readonly name: string;
  readonly file: string;
  readonly params: number;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputShape: readonly (number | null)[];
  readonly outputShape: readonly (number | null)[];
}

/** What every .onnx of the run carries as metadata_props (strings; JSON for the structured ones). */
function runMetadata(runDir: string): Record<string, string> {
  const meta: Record<string, string> = {};
  const status = readOptionalRunJson(runDir, 'status');
  if (status.ok && status.value) meta.graph = status.value.graphName;
  const norm = readOptionalRunJson(runDir, 'normalization');
  if (!norm.ok) throw new UserError(`${norm.error}; the ONNX models would not say how to normalize their inputs`, runDir);
  if (norm.value) meta.normalization = JSON.stringify(norm.value);
  const config = readOptionalRunJson(runDir, 'config');
  if (config.ok && config.value) {
    if (config.value.dataset.classNames) meta.classNames = JSON.stringify(config.value.dataset.classNames);
    meta.dataset = config.value.dataset.spec;
  }
  const anomaly = readOptionalRunJson(runDir, 'anomaly');
  if (anomaly.ok && anomaly.value) {
    meta.anomalyThreshold = String(anomaly.value.threshold);
    meta.anomalyScore = 'mean squared error between the input and the reconstruction, per sample';
  }
  return meta;
}

export async function exportOnnx(req: OnnxExportRequest, opts: WorkerOptions = {}): Promise<ExportedOnnxModel[]> {
  const runDir = path.resolve(req.runDir);
  const outDir = path.resolve(req.outDir);
  const notFolder = notAFolder(outDir);
  if (notFolder) throw new UserError(`${notFolder}: choose a folder to export into`, outDir);
  const metadata = runMetadata(runDir);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-onnx-'));
  try {
    const models = await exportRun({ runDir, outDir: scratch, overwrite: false }, opts);
    const targets = models.map((m) => ({ model: m, file: path.join(outDir, `${m.name}.onnx`) }));
    // Nothing is written until every file is known to be free (or may be replaced).
    for (const t of targets) {
      if (fs.existsSync(t.file) && !req.overwrite) throw new UserError(`${t.file} already exists: choose another folder or overwrite it`, t.file);
      if (fs.existsSync(t.file) && !fs.statSync(t.file).isFile()) throw new UserError(`${t.file} already exists and is not a file: it cannot be overwritten with a model`, t.file);
    }
    const converted = targets.map(({ model, file }) => {
      const jsonFile = path.join(model.dir, 'model.json');
      const json = parseTfjsModelJson(fs.readFileSync(jsonFile, 'utf8'), jsonFile);
      const shards = json.weightsManifest.flatMap((g) => g.paths).map((p) => fs.readFileSync(path.join(model.dir, p)));
      const weights = readWeights(json, new Uint8Array(Buffer.concat(shards)), path.join(model.dir, 'weights.bin'));
      const onnx = tfjsToOnnx(json, weights, { modelName: model.name, producerVersion: LATENT_STUDIO_VERSION, metadata: { ...metadata, model: model.name }, file: jsonFile });
      return { model, file, onnx };
    });
    fs.mkdirSync(outDir, { recursive: true });
    for (const c of converted) writeFileAtomic(c.file, c.onnx.bytes);
    return converted.map(({ model, file, onnx }) => ({ name: model.name, file, params: model.params, inputName: onnx.inputName, outputName: onnx.outputName, inputShape: onnx.inputShape, outputShape: onnx.outputShape }));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
