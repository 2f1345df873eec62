/** What every stage of a training run shares while it trains (trainer.ts, layerwiseStage.ts). */
import * as tf from '../backend/tf';
import type { CompiledGraph } from '../compile/compile';
import type { Mulberry32 } from '../data/random';
import type { PreparedRun, Send } from './prepare';
import type { RunRecorder } from './runRecorder';
import type { Feeder } from './scoring';

export interface CancelToken {
  readonly cancelled: boolean;
}

/** Weights of every layer after the last completed epoch (tfjs variables swap data on assign, so clones keep old values cheaply). */
export class WeightSnapshot {
  private weights: tf.Tensor[][] = [];

  take(compiled: CompiledGraph): void {
    this.dispose();
    this.weights = [...compiled.layersByNode.values()].flatMap((layers) => layers.map((l) => l.getWeights().map((w) => tf.clone(w))));
  }

  restore(compiled: CompiledGraph): void {
    [...compiled.layersByNode.values()].flat().forEach((layer, i) => {
      const w = this.weights[i];
      if (w && w.length > 0) layer.setWeights(w);
    });
  }

  dispose(): void {
    for (const ws of this.weights) tf.dispose(ws);
    this.weights = [];
  }
}

export interface StageContext {
  readonly run: PreparedRun;
  readonly recorder: RunRecorder;
  readonly feeder: Feeder;
  readonly rng: Mulberry32;
  readonly snapshot: WeightSnapshot;
  readonly send: Send;
  readonly cancel: CancelToken;
}

