/**
 * The topology job: a graph's models as tfjs saves them (LayersModel.save's topology, format and
 * weight specs), without their weights, for the PyTorch engine: train.py writes `model/` in the
 * TensorFlow.js layers format from it, filling in the weights it trained. Each weight spec carries
 * the key our weights files use for it (`layer/<layer name>/<index>`, src/train/checkpoint.ts).
 */
import type * as tf from '../../backend/tf';
import { analyzeGraph } from '../../core/analyze';
import { parseJsonText } from '../../core/canonical';
import { graphProblemsSentence } from '../../core/problems';
import type { TfjsModels, TopologyRequest } from '../../core/protocol';
import { compileGraph } from '../../compile/compile';
import { applyKernelFixes } from '../../backend/kernelFixes';
import { selectBackend } from '../../backend/select';
import { TrainingError } from '../errors';

/** What LayersModel.save hands its IO handler, captured (the weight values are dropped). */
async function savedArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({
    save: (a: tf.io.ModelArtifacts) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    },
  });
  if (!artifacts) throw new Error(`tfjs saved nothing for model "${model.name}"`);
  return artifacts;
}

export async function runTopology(request: TopologyRequest): Promise<TfjsModels> {
  const parsed = parseJsonText(request.graphText);
  if (!parsed.ok) throw new TrainingError(`${request.graphPath}:${parsed.error.line}:${parsed.error.column}: invalid JSON: ${parsed.error.message}`);
  const analysis = analyzeGraph(parsed.value);
  if (!analysis.ok) throw new TrainingError(graphProblemsSentence(request.graphPath, analysis.problems));
  // Only shapes and names are read: the plain JS backend is enough and always there.
  applyKernelFixes();
  await selectBackend({ prefer: 'cpu', needs: [] });
  const compiled = compileGraph(analysis, { seed: analysis.document!.training.seed });
  try {
    const models: TfjsModels['models'] = {};
    for (const [name, model] of compiled.models) {
      const artifacts = await savedArtifacts(model);
      const keys = new Map<tf.LayerVariable, string>();
      for (const layer of model.layers) layer.weights.forEach((w, i) => keys.set(w, `layer/${layer.name}/${i}`));
      const specs = artifacts.weightSpecs ?? [];
      // getNamedWeights lists model.weights in order: the specs are theirs, one for one.
      if (specs.length !== model.weights.length) throw new Error(`Model "${name}": ${specs.length} weight specs for ${model.weights.length} weights`);
      const weights = model.weights.map((w, i) => {
        const spec = specs[i]!;
        const key = keys.get(w);
        if (!key || spec.name !== w.originalName) throw new Error(`Model "${name}": weight ${i} (${spec.name}) is not a layer's weight`);
        if (spec.dtype !== 'float32' && spec.dtype !== 'int32') throw new Error(`Model "${name}": weight ${spec.name} is ${spec.dtype}`);
        return { name: spec.name, key, shape: [...spec.shape], dtype: spec.dtype };
      });
      models[name] = {
        modelTopology: artifacts.modelTopology as Record<string, unknown>,
        ...(artifacts.format ? { format: artifacts.format } : {}),
        ...(artifacts.generatedBy ? { generatedBy: artifacts.generatedBy } : {}),
        convertedBy: artifacts.convertedBy ?? null,
        weights,
      };
    }
    return { format: 1, models };
  } finally {
    compiled.dispose();
  }
}
