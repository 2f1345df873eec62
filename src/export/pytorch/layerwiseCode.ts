/**
 * Greedy layer-wise pretraining in train.py (seed 001's stacked autoencoder), planned here as the
 * tfjs engine plans it (src/train/layerwise.ts planLayerwise): each Dense of the stage's Encoder,
 * with the parameter-free layers after it, is one step that trains as its own autoencoder on the
 * codes of the step before; the nodes from the Input to the Encoder make the first codes; the nodes
 * between the Encoder and the first labels Output they feed are the softmax step. Each step is
 * written as a plain function of model.py's shared layers, so the step trains the graph's own
 * modules and the next stage starts from them. The loop itself is trainRuntime.ts'
 * run_layerwise_stage.
 */
import type { AnalyzedLayer, AnalyzedNode, GraphAnalysis } from '../../core/analyze';
import { type ResolvedStage, chainBetween, resolveStages } from '../../core/stages';
import { shapeSize } from '../../core/shape';
import { type LayerCode, chainLines, isImage, layerCodes, layerLines, softmaxHead, toNhwc } from './modelCode';
import { indent, pyStr } from './python';

interface StepPlan {
  readonly label: string;
  readonly kind: 'layer' | 'head';
  readonly layers: readonly AnalyzedLayer[];
  /** The softmax step's nodes (a chain, maybe branched inside a block). */
  readonly nodes?: readonly AnalyzedNode[];
}

type StagePlan = { readonly error: string } | { readonly before: string[]; readonly steps: readonly StepPlan[]; readonly headOutputId?: string; readonly headModel?: string; readonly headLogits: boolean };

function planStage(analysis: GraphAnalysis, stage: ResolvedStage): StagePlan {
  const encoderId = stage.encoder;
  const encoder = encoderId ? analysis.nodes.get(encoderId) : undefined;
  if (!encoderId || !encoder) return { error: `Stage "${stage.name}" pretrains layer by layer but names no Encoder block.` };
  const steps: { label: string; kind: 'layer' | 'head'; layers: AnalyzedLayer[]; nodes?: AnalyzedNode[] }[] = [];
  for (const layer of encoder.layers) {
    if (layer.from !== undefined) return { error: `Stage "${stage.name}": layer-wise pretraining works on a chain of dense layers; Encoder "${encoderId}" branches (a variational code).` };
    if (layer.spec.kind === 'dense') steps.push({ label: `layer ${steps.length + 1}`, kind: 'layer', layers: [layer] });
    else if (steps.length > 0 && layer.params === 0) steps.at(-1)!.layers.push(layer);
    else return { error: `Stage "${stage.name}": layer-wise pretraining works on dense layers; Encoder "${encoderId}" has a ${layer.className} layer.` };
  }
  if (steps.length === 0) return { error: `Stage "${stage.name}": Encoder "${encoderId}" has no dense layer to pretrain.` };
  const before = chainBetween(analysis, analysis.inputId!, encoderId) ?? [];
  let headOutputId: string | undefined;
  let headLogits = false;
  for (const out of analysis.outputs) {
    if (out.target !== 'labels') continue;
    const chain = chainBetween(analysis, encoderId, out.id);
    if (!chain || chain.length === 0) continue;
    const nodes = chain.map((id) => analysis.nodes.get(id)!);
    steps.push({ label: 'softmax', kind: 'head', layers: nodes.flatMap((n) => n.layers), nodes });
    headOutputId = out.id;
    headLogits = softmaxHead(nodes) !== undefined;
    break;
  }
  const headModel = headOutputId ? analysis.models.find((m) => m.outputId === headOutputId)?.name : undefined;
  return { before, steps, headLogits, ...(headOutputId ? { headOutputId } : {}), ...(headModel ? { headModel } : {}) };
}

/**
 * train.py's LAYERWISE: for each layer-wise stage (by stage index), its step functions and what
 * they train, or the sentence that refuses the stage (the tfjs engine's).
 */
export function layerwiseCode(analysis: GraphAnalysis): string[] {
  const stages = resolveStages(analysis);
  const inputShape = analysis.nodes.get(analysis.inputId!)!.outputShape!;
  const codes = layerCodes(analysis, shapeSize(inputShape));
  const attrsOf = (layers: readonly AnalyzedLayer[]): string[] => layers.map((l) => codes.get(l)!).flatMap((c: LayerCode) => (c.attr ? [c.attr] : []));
  const fns: string[] = [];
  const entries: string[] = [];
  stages.forEach((stage, index) => {
    if (stage.kind !== 'layerwise') return;
    const plan = planStage(analysis, stage);
    if ('error' in plan) {
      entries.push(`    ${index}: {"error": ${pyStr(plan.error)}},`);
      return;
    }
    const prefix = `_stage${index}`;
    // The first codes: the nodes before the Encoder on the model inputs, flattened as tfjs flattens (NHWC).
    const beforeNodes = plan.before.map((id) => analysis.nodes.get(id)!);
    const lastShape = beforeNodes.flatMap((n) => n.layers).at(-1)?.outputShape ?? inputShape;
    fns.push(
      `def ${prefix}_codes(layers, x):`,
      `    """Stage ${index + 1} "${stage.name}": the codes its first layer learns (the model inputs through the nodes before the Encoder, flattened)."""`,
      ...(isImage(inputShape) && beforeNodes.some((n) => n.layers.length) ? ['    x = x.permute(0, 3, 1, 2)'] : []),
      ...indent(chainLines(beforeNodes, codes, 'layers', undefined, false)),
      `    return ${isImage(lastShape) && beforeNodes.some((n) => n.layers.length) ? toNhwc('x', lastShape) : 'x'}.reshape(len(x), -1)`,
      '',
      '',
    );
    const steps = plan.steps.map((step, s) => {
      const fn = `${prefix}_${step.kind === 'head' ? 'softmax' : `layer${s + 1}`}`;
      const headLayer = step.kind === 'head' && plan.headLogits ? step.layers.at(-1) : undefined;
      const body = step.nodes ? chainLines(step.nodes, codes, 'layers', headLayer, false) : layerLines(step.layers, codes, 'layers');
      fns.push(`def ${fn}(layers, x${step.kind === 'head' ? ', logits=False' : ''}):`, ...indent(body), '    return x', '', '');
      return `            {"label": ${pyStr(step.label)}, "kind": ${pyStr(step.kind)}, "modules": [${attrsOf(step.layers).map(pyStr).join(', ')}], "apply": ${fn}},`;
    });
    entries.push(
      `    ${index}: {`,
      `        "codes": ${prefix}_codes,`,
      '        "steps": [',
      ...steps,
      '        ],',
      `        "headOutputId": ${plan.headOutputId ? pyStr(plan.headOutputId) : 'None'},`,
      `        "headModel": ${plan.headModel ? pyStr(plan.headModel) : 'None'},`,
      `        "headLogits": ${plan.headLogits ? 'True' : 'False'},`,
      '    },',
    );
  });
  if (entries.length === 0) return ['LAYERWISE = {}  # layer-wise pretraining stages by index: this graph has none'];
  return [
    '# ---------------------------------------------------------------------------------------------',
    "# Layer-wise pretraining (src/train/layerwise.ts): each step's layers as a function of model.py's",
    '# shared layers, so a step trains the graph\'s own modules. Keyed by stage index.',
    '',
    '',
    ...fns,
    'LAYERWISE = {',
    ...entries,
    '}',
  ];
}
