/** Errors shared by the training, evaluation and export jobs (no tfjs here, so anything may import it). */
import { UserError } from '../core/errors';

/** A training run, job or setting the user can fix (a stage that does not fit, a loss that turned NaN). */
export class TrainingError extends UserError {}

/**
 * Stops a run at the first validation loss that is not finite (Infinity, NaN), before the epoch is
 * recorded or checkpointed: a checkpoint of it would make every Resume fail the same way. The same
 * sentence as the PyTorch engine's (src/export/pytorch/trainRuntime.ts check_val_loss).
 */
export function checkValidationLoss(value: number | null, where: { stage: string; epoch: number; learningRate: number }): void {
  if (value === null || Number.isFinite(value)) return;
  throw new TrainingError(
    where.epoch === 0
      ? `The validation loss is ${value} in stage "${where.stage}" before it trains: check the data (values the loss cannot take, such as targets outside 0..1 for binary cross-entropy).`
      : `The validation loss became ${value} in stage "${where.stage}", epoch ${where.epoch}: lower the learning rate (now ${where.learningRate}) or check the data. The run keeps its last checkpoint.`,
  );
}
