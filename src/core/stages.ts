/** The training plan: a graph's training section resolved into concrete stages with every default filled. */
import type { GraphAnalysis } from './analyze';
import type { OutputTarget } from './catalog';
import { DEFAULT_LEARNING_RATE, type LossName, type MetricName, type OptimizerName, type StageSpec, type TrainingSpec } from './format';

export interface ResolvedStage {
  readonly name: string;
  readonly kind: 'fit' | 'layerwise';
  /** The Output block trained against (fit stages). */
  readonly outputId: string;
  readonly target: OutputTarget;
  readonly loss: LossName;
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** Metrics that make sense for the target (accuracy only with labels). */
  readonly metrics: readonly MetricName[];
  /** Blocks frozen in this stage, on top of blocks with `trainable: false`. */
  readonly freeze: readonly string[];
  readonly encoder?: string;
}

export interface TrainingOverrides {
  readonly epochs?: number;
  readonly batchSize?: number;
}

/** Resolve the stages of a valid graph. Throws only on a graph that did not validate. */
export function resolveStages(analysis: GraphAnalysis, overrides: TrainingOverrides = {}): ResolvedStage[] {
  const doc = analysis.document;
  if (!doc) throw new Error('resolveStages needs a graph without errors');
  const t: TrainingSpec = doc.training;
  const stages: StageSpec[] = t.stages && t.stages.length > 0 ? t.stages : [{ name: 'train', kind: 'fit' }];
  return stages.map((s) => {
    const outputId = s.output ?? t.output ?? analysis.outputs[0]!.id;
    const target = analysis.outputs.find((o) => o.id === outputId)?.target ?? 'input';
    const optimizer = s.optimizer ?? t.optimizer;
    const metrics = (s.metrics ?? t.metrics).filter((m) => m !== 'accuracy' || target === 'labels');
    return {
      name: s.name,
      kind: s.kind ?? 'fit',
      outputId,
      target,
      loss: s.loss ?? t.loss,
      optimizer,
      learningRate: s.learningRate ?? (s.optimizer ? undefined : t.learningRate) ?? DEFAULT_LEARNING_RATE[optimizer],
      epochs: overrides.epochs ?? s.epochs ?? t.epochs,
      batchSize: overrides.batchSize ?? s.batchSize ?? t.batchSize,
      metrics,
      freeze: s.freeze ?? [],
      encoder: s.encoder,
    };
  });
}

/**
 * What one block does in one stage: its weights update ('trained'), it runs but keeps its weights
 * ('frozen'), it runs and has no weights ('fixed': Input, Flatten, pooling, noise, Output), or the
 * stage never runs it ('unused').
 */
export type StageRole = 'trained' | 'frozen' | 'fixed' | 'unused';

/** The parts of a stage that decide the roles (a ResolvedStage, or a loose one read from a graph with errors). */
export type StageShape = Pick<ResolvedStage, 'kind' | 'outputId' | 'freeze' | 'encoder'>;

/** Nodes strictly between `from` and `to` along first inputs, in order; undefined if `to` does not descend from `from` that way. */
/**
 * Layer-wise pretraining's steps (seed 001's recipe, which src/train/layerwise.ts and the exported
 * train.py both follow): the first layer reconstructs the inputs with a sigmoid layer and binary
 * cross-entropy, deeper layers reconstruct their codes linearly with mean squared error, and the
 * softmax step learns the labels with categorical cross-entropy. Epoch records name a step
 * "<stage> · layer <n> (<in>→<out>)" or "<stage> · softmax".
 */
export function layerwiseStepLoss(kind: 'layer' | 'head', first: boolean): LossName {
  return kind === 'head' ? 'categoricalCrossentropy' : first ? 'binaryCrossentropy' : 'meanSquaredError';
}

/** A layer-wise step's epoch-record label, as both engines write it. */
export function layerwiseStepLabel(stageName: string, step: { kind: 'layer' | 'head'; index: number; inDim?: number; units?: number }): string {
  return step.kind === 'head' ? `${stageName} · softmax` : `${stageName} · layer ${step.index + 1} (${step.inDim}→${step.units})`;
}

/** Which step an epoch-record label names (the inverse of layerwiseStepLabel), and its loss. */
export function layerwiseStepOf(label: string): { kind: 'layer' | 'head'; index?: number; loss: LossName } | undefined {
  if (/ · softmax$/.test(label)) return { kind: 'head', loss: layerwiseStepLoss('head', false) };
  const m = / · layer (\d+) \(\d+→\d+\)$/.exec(label);
  if (!m) return undefined;
  const index = Number(m[1]) - 1;
  return { kind: 'layer', index, loss: layerwiseStepLoss('layer', index === 0) };
}

export function chainBetween(analysis: GraphAnalysis, from: string, to: string): string[] | undefined {
  const nodes: string[] = [];
  const seen = new Set<string>();
  let cur = analysis.nodes.get(to)?.inputs[0];
  while (cur !== undefined && cur !== from && !seen.has(cur)) {
    seen.add(cur);
    nodes.unshift(cur);
    cur = analysis.nodes.get(cur)?.inputs[0];
  }
  return cur === from ? nodes : undefined;
}

function closure(start: string, next: (id: string) => readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...next(id));
  }
  return seen;
}

/**
 * The role of every block of the graph in one stage, keyed by node id in document order.
 * A fit stage runs the blocks on a path from the Input to its Output; blocks with weights train
 * unless the stage freezes them or they are `trainable: false`. A layerwise stage (src/train/
 * layerwise.ts) trains the Encoder's layers one by one (whatever their trainable flag), then the
 * blocks chained from the Encoder to the first labels Output (the softmax step); the blocks from
 * the Input to the Encoder only feed it.
 */
export function stageRoles(analysis: GraphAnalysis, stage: StageShape): Map<string, StageRole> {
  const roles = new Map<string, StageRole>();
  const hasWeights = (id: string): boolean => (analysis.nodes.get(id)?.paramCount ?? 0) > 0;
  for (const id of analysis.nodes.keys()) roles.set(id, 'unused');
  const inputId = analysis.inputId;
  if (!inputId) return roles;

  if (stage.kind === 'layerwise') {
    const encoderId = stage.encoder;
    if (!encoderId || !analysis.nodes.has(encoderId)) return roles;
    const before = chainBetween(analysis, inputId, encoderId);
    if (!before) return roles;
    for (const id of [inputId, ...before]) roles.set(id, hasWeights(id) ? 'frozen' : 'fixed');
    roles.set(encoderId, hasWeights(encoderId) ? 'trained' : 'fixed');
    for (const out of analysis.outputs) {
      if (out.target !== 'labels') continue;
      const head = chainBetween(analysis, encoderId, out.id);
      if (!head || head.length === 0) continue;
      for (const id of head) roles.set(id, hasWeights(id) ? 'trained' : 'fixed');
      roles.set(out.id, 'fixed');
      break;
    }
    return roles;
  }

  const node = analysis.nodes.get(stage.outputId);
  if (!node) return roles;
  const fromInput = closure(inputId, (id) => analysis.nodes.get(id)?.outputs ?? []);
  const toOutput = closure(stage.outputId, (id) => analysis.nodes.get(id)?.inputs ?? []);
  const frozen = new Set(stage.freeze);
  for (const id of analysis.nodes.keys()) {
    if (!fromInput.has(id) || !toOutput.has(id)) continue;
    const n = analysis.nodes.get(id)!;
    roles.set(id, !hasWeights(id) ? 'fixed' : !n.trainable || frozen.has(id) ? 'frozen' : 'trained');
  }
  return roles;
}
