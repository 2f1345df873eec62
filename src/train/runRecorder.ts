/**
 * A training run's record: its run folder (through src/run/runFolder.ts) and the messages to the
 * host, kept in step. The loop reports what happened (an epoch, a preview, a checkpoint, the end);
 * this writes it down in the run format and says it, so the folder and the panel never disagree.
 */
import * as path from 'node:path';
import * as tf from '../backend/tf';
import type { ClassifierPreview, EpochRecord, Pretraining, RunConfigInput } from '../core/runFormat';
import { RUN_FILES } from '../core/runFormat';
import type { CompiledGraph } from '../compile/compile';
import { type RunStatusInput, appendMetrics, createRunDir, trimMetrics, writeFileAtomic, writeRunJson, writeStatus } from '../run/runFolder';
import { type HeldLock, claimRun } from '../run/runLock';
import { type CheckpointState, saveCheckpoint } from './checkpoint';
import { layerwiseEpochs, planLayerwise } from './layerwise';
import type { PreparedRun, Send } from './prepare';

/** Epochs of each stage a resumed run has already done (`resumedAfterEpoch`). */
export function epochsDone(run: PreparedRun): number[] {
  const at = run.saved?.checkpoint;
  return run.stages.map((s, i) => (!at ? 0 : i < at.stageIndex ? s.epochs : i === at.stageIndex ? Math.min(at.stageEpoch, s.epochs) : 0));
}

function configOf(run: PreparedRun, startedAt: string): RunConfigInput {
  const { ds, doc, saved, settings } = run;
  return {
    graphFile: run.graphPath,
    graphSha256: run.graphSha256,
    graphName: doc.name,
    seed: doc.training.seed,
    dataset: {
      spec: run.dataText,
      source: ds.source,
      count: ds.count,
      skipped: ds.skipped,
      shape: [ds.height, ds.width, ds.channels],
      kind: ds.kind,
      ...(ds.classNames ? { classNames: [...ds.classNames] } : {}),
      ...(ds.featureNames ? { featureNames: [...ds.featureNames] } : {}),
    },
    split: { train: run.trainIdx.length, validation: run.validationIdx.length, test: run.split.test.length },
    // Skipped stages plan no epochs (the run store sums these for "3/5 ep").
    stages: run.stages.map((s, i) => ({ ...s, metrics: [...s.metrics], freeze: [...s.freeze], ...(run.skipped[i] ? { epochs: 0, skipped: run.skipped[i] } : {}) })),
    backend: run.backend,
    overrides: { ...settings, stages: settings.stages ? [...settings.stages] : undefined, backend: run.request.backend },
    initFrom: run.initFrom,
    versions: { tfjs: tf.version.tfjs, node: process.version },
    startedAt,
    ...(saved ? { resumes: [...(saved.config.resumes ?? []), { startedAt: new Date().toISOString(), afterEpoch: saved.checkpoint.epochsCompleted, backend: run.backend.name }] } : {}),
  };
}

export class RunRecorder {
  private constructor(
    readonly runDir: string,
    /** This process's claim on the folder, given back when the run ends (finish, fail, release). */
    private readonly lock: HeldLock,
    private readonly status: RunStatusInput,
    private readonly send: Send,
    private readonly backend: string,
    public epochsCompleted: number,
    public bestValLoss: number | null,
  ) {
    this.checkpointed = { epochsCompleted, bestValLoss };
  }

  private checkpointed: { epochsCompleted: number; bestValLoss: number | null };

  /** Create the run folder (or continue the resumed one), write run.json and config.json, and say `started`. */
  static open(run: PreparedRun, send: Send, requestId: number): RunRecorder {
    const { saved } = run;
    let runDir: string;
    let startedAt: string;
    let lock: HeldLock;
    if (saved) {
      runDir = saved.runDir;
      if (!run.lock) throw new Error('a resumed run is claimed before it is prepared');
      lock = run.lock;
      startedAt = saved.status.startedAt;
      const at = saved.checkpoint;
      // Records past the checkpoint (a worker killed between the two writes) would be repeated.
      const dropped = trimMetrics(runDir, (r) => r.stageIndex < at.stageIndex || (r.stageIndex === at.stageIndex && r.epoch <= at.stageEpoch));
      if (dropped > 0) send({ type: 'log', level: 'info', message: `Dropped ${dropped} line(s) of ${RUN_FILES.metrics} past the checkpoint.` });
      send({ type: 'log', level: 'info', message: `Resuming ${saved.name} after epoch ${at.epochsCompleted} (stage "${at.stageName}", epoch ${at.stageEpoch}).` });
    } else {
      runDir = createRunDir(run.request.runsDir, run.graphPath);
      lock = claimRun(runDir, 'training');
      startedAt = new Date().toISOString();
      writeFileAtomic(path.join(runDir, RUN_FILES.graph), run.graphText);
    }
    const epochs = saved?.checkpoint.epochsCompleted ?? 0;
    const best = saved?.checkpoint.bestValLoss ?? null;
    const status: RunStatusInput = { status: 'running', graphName: run.doc.name, startedAt, backend: run.backend.name, epochsCompleted: epochs, bestValLoss: best, pid: process.pid };
    const recorder = new RunRecorder(runDir, lock, status, send, run.backend.name, epochs, best);
    recorder.writeStatus();
    writeRunJson(runDir, 'config', configOf(run, startedAt));
    writeRunJson(runDir, 'normalization', run.norm);
    send({ type: 'started', inReplyTo: requestId, runDir, backend: run.backend, dataset: { source: run.ds.source, train: run.trainIdx.length, validation: run.validationIdx.length, test: run.split.test.length, skipped: run.ds.skipped }, stages: stagePlans(run) });
    return recorder;
  }

  private writeStatus(change: Partial<RunStatusInput> = {}): void {
    writeStatus(this.runDir, { ...this.status, epochsCompleted: this.epochsCompleted, bestValLoss: this.bestValLoss, ...change });
  }

  /**
   * An epoch record: epoch 0 (where a stage starts) only says where it is; a trained epoch counts, and
   * its validation loss competes for the best (not a layer-wise sub-step's, whose loss is another model's).
   */
  epoch(record: EpochRecord, opts: { readonly best: boolean } = { best: true }): void {
    if (record.epoch > 0) {
      this.epochsCompleted++;
      if (opts.best && record.valLoss !== null && (this.bestValLoss === null || record.valLoss < this.bestValLoss)) this.bestValLoss = record.valLoss;
    }
    appendMetrics(this.runDir, record);
    this.send({ type: 'epoch', record });
    if (record.epoch > 0) this.writeStatus();
  }

  /** The newest reconstructions (reconstructions.png) of a stage's Output block. */
  preview(stageIndex: number, epoch: number, outputId: string, png: Buffer, caption: string | undefined): void {
    writeFileAtomic(path.join(this.runDir, RUN_FILES.reconstructions), png);
    this.send({ type: 'preview', stageIndex, epoch, kind: 'reconstructions', pngBase64: png.toString('base64'), outputId, caption });
  }

  /** A classifier stage's newest confusion matrix (confusion.json) and prediction strip (predictions.png). */
  classifier(where: { stage: string; stageIndex: number; epoch: number; outputId: string; samples: number }, preview: ClassifierPreview, png: Buffer): void {
    if (png.byteLength > 0) writeFileAtomic(path.join(this.runDir, RUN_FILES.predictions), png);
    const { stripPngBase64: _png, ...rest } = preview;
    writeRunJson(this.runDir, 'confusion', { ...where, split: 'validation', ...rest });
    this.send({ type: 'classifier', stageIndex: where.stageIndex, epoch: where.epoch, outputId: where.outputId, preview });
  }

  private pretrainingValue: Pretraining | undefined;

  /** The stacked classifier's scores (pretraining.json), once a layer-wise stage has them. */
  get pretrained(): Pretraining | undefined {
    return this.pretrainingValue;
  }

  pretraining(value: Pretraining): void {
    this.pretrainingValue = value;
    writeRunJson(this.runDir, 'pretraining', value);
  }

  /** Replace the checkpoint with the state after the last completed epoch. */
  async checkpoint(compiled: CompiledGraph, optimizer: tf.Optimizer | undefined, state: Omit<CheckpointState, 'epochsCompleted' | 'bestValLoss' | 'backend'>): Promise<void> {
    await saveCheckpoint(this.runDir, compiled, optimizer, { ...state, epochsCompleted: this.epochsCompleted, bestValLoss: this.bestValLoss, backend: this.backend });
    this.checkpointed = { epochsCompleted: this.epochsCompleted, bestValLoss: this.bestValLoss };
  }

  /** The epochs the checkpoint holds: what a resume continues from. */
  get checkpointedEpochs(): number {
    return this.checkpointed.epochsCompleted;
  }

  finish(stopped: boolean): void {
    this.writeStatus({ status: stopped ? 'stopped' : 'completed', endedAt: new Date().toISOString() });
    this.lock.release();
  }

  /**
   * Records the failure in run.json, counting the epochs the checkpoint holds (an epoch recorded but not
   * checkpointed is trained again by Resume). Best effort: on a full or read-only disk run.json may not
   * be writable either; the sentence then says so, and the caller still gets it.
   */
  fail(message: string): string {
    let said = message;
    try {
      const { pid: _pid, ...status } = this.status;
      writeStatus(this.runDir, { ...status, ...this.checkpointed, status: 'failed', endedAt: new Date().toISOString(), error: message });
    } catch (e) {
      said = `${message} (run.json could not be updated either: ${e instanceof Error ? e.message : String(e)})`;
    }
    this.lock.release();
    return said;
  }
}

/** What the host is told of each stage at the start. */
function stagePlans(run: PreparedRun) {
  const done = epochsDone(run);
  return run.stages.map((s, i) => {
    const skipped = run.skipped[i];
    // A layer-wise stage runs `epochs` for each layer it pretrains, and again for the softmax step; a skipped stage none.
    const epochs = skipped ? 0 : s.kind === 'layerwise' ? layerwiseEpochs(planLayerwise(run.analysis, run.compiled, s), s) : s.epochs;
    return {
      name: s.name,
      kind: s.kind,
      epochs,
      batchesPerEpoch: Math.ceil(run.trainIdx.length / s.batchSize),
      ...(s.kind === 'fit' ? { loss: s.loss } : {}),
      ...(skipped ? { skipped } : {}),
      outputId: s.outputId,
      resumedAfterEpoch: run.saved ? done[i] : undefined,
    };
  });
}
