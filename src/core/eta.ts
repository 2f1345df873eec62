/**
 * How long a run has left: the whole run's remaining time (this stage's remaining epochs and every
 * later stage that trains), from the speed measured over the last epoch of progress (validation and
 * previews included, as they take wall time too). Progress arrives as batch reports, which the
 * engines throttle (one every half second or so), so the speed comes from progress over time, never
 * from a batch number alone.
 */
import type { StagePlan } from './protocol';

interface Observation {
  readonly at: number;
  /** Epochs of the stage done, fractional: (epoch - 1) + batch / batches. */
  readonly progress: number;
}

/** Observations kept per stage: enough to span more than an epoch at any report rate. */
const KEEP = 4096;

export class EtaEstimator {
  private stageIndex = -1;
  private observations: Observation[] = [];

  /** A batch report (or an epoch's end: batch = batches) at time `at` (ms). */
  observe(at: number, stageIndex: number, epoch: number, batch: number, batches: number): void {
    if (stageIndex !== this.stageIndex) {
      this.stageIndex = stageIndex;
      this.observations = [];
    }
    const progress = epoch - 1 + (batches > 0 ? Math.min(batch, batches) / batches : 1);
    const last = this.observations.at(-1);
    if (last && progress < last.progress) this.observations = []; // a stage started over (resume)
    this.observations.push({ at, progress });
    if (this.observations.length > KEEP) this.observations.splice(0, this.observations.length - KEEP);
  }

  /** Epochs per second of the current stage over the last epoch of progress (all of it, before a whole epoch has passed). */
  private rate(): number | undefined {
    const obs = this.observations;
    const last = obs.at(-1);
    if (!last) return undefined;
    let first = obs[0]!;
    for (let i = obs.length - 2; i >= 0; i--) {
      first = obs[i]!;
      if (last.progress - first.progress >= 1) break;
    }
    const dt = (last.at - first.at) / 1000;
    const dp = last.progress - first.progress;
    return dt > 0 && dp > 0 ? dp / dt : undefined;
  }

  /** Seconds the run has left at time `now` (ms), or undefined until its speed is known. */
  remainingSeconds(stages: readonly StagePlan[], now: number): number | undefined {
    const rate = this.rate();
    const stage = stages[this.stageIndex];
    const last = this.observations.at(-1);
    if (rate === undefined || !stage || !last) return undefined;
    let seconds = Math.max(0, stage.epochs - last.progress) / rate;
    // Later stages at this stage's speed per batch.
    const perBatch = stage.batchesPerEpoch > 0 ? 1 / rate / stage.batchesPerEpoch : 0;
    for (const later of stages.slice(this.stageIndex + 1)) {
      if (later.skipped) continue;
      seconds += Math.max(0, later.epochs - (later.resumedAfterEpoch ?? 0)) * later.batchesPerEpoch * perBatch;
    }
    return Math.max(0, seconds - Math.max(0, now - last.at) / 1000);
  }
}
