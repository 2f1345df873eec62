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
