/**
 * The export job: every model the run's graph names (autoencoder, encoder, decoder, classifier, …)
 * with the checkpoint's weights, each written to `<outDir>/<name>/` in the tfjs layers format, and
 * the run's normalization.json beside them (how raw values become the models' inputs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import type { ExportRequestSchema, ExportedModel } from '../../core/protocol';
import { RUN_FILES } from '../../core/runFormat';
import { notAFolder, readOptionalRunJson, writeFileAtomic } from '../../run/runFolder';
import { TrainingError } from '../errors';
import { saveModel } from '../modelFiles';
import { compileRun, openRunGraph } from './openRun';

export type ResolvedExportRequest = z.output<typeof ExportRequestSchema>;

/** A model name as a folder name: names come from the graph (Output ids), so keep them tame. */
function folderName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
  return safe || 'model';
}

export async function runExport(request: ResolvedExportRequest): Promise<ExportedModel[]> {
  const opened = openRunGraph(request.runDir, 'export');
  const { saved, analysis } = opened;
  const outDir = path.resolve(request.outDir);
  const notFolder = notAFolder(outDir);
  if (notFolder) throw new TrainingError(`${notFolder}: choose a folder to export into`);
  const targets = analysis.models.map((m) => ({ name: m.name, dir: path.join(outDir, folderName(m.name)) }));
  const dirs = new Set(targets.map((t) => t.dir));
  if (dirs.size !== targets.length) throw new TrainingError(`Two models of ${saved.name} would share a folder name in ${outDir}`);
  for (const t of targets) {
    if (!fs.existsSync(t.dir)) continue;
    if (!request.overwrite) throw new TrainingError(`${t.dir} already exists: choose another folder or overwrite it`);
    if (!fs.statSync(t.dir).isDirectory()) throw new TrainingError(`${t.dir} already exists and is not a folder: it cannot be overwritten with a model`);
  }

  const norm = readOptionalRunJson(saved.runDir, 'normalization');
  if (!norm.ok) throw new TrainingError(`${norm.error}; the exported models would not say how to normalize their inputs`);
  const normFile = path.join(outDir, RUN_FILES.normalization);
  if (norm.value && fs.existsSync(normFile) && !request.overwrite) throw new TrainingError(`${normFile} already exists: choose another folder or overwrite it`);

  // Weights only pass through memory here: the plain JS backend is enough and always there.
  const { compiled } = await compileRun(opened, 'cpu');
  try {
    const exported: ExportedModel[] = [];
    for (const t of targets) {
      const model = compiled.models.get(t.name);
      if (!model) throw new Error(`The compiled graph has no model "${t.name}"`);
      await saveModel(model, t.dir);
      exported.push({ name: t.name, dir: t.dir, params: model.countParams(), inputShape: [...model.inputs[0]!.shape], outputShape: [...model.outputs[0]!.shape] });
    }
    if (norm.value) writeFileAtomic(normFile, `${JSON.stringify(norm.value, null, 2)}\n`);
    return exported;
  } finally {
    compiled.dispose();
  }
}
