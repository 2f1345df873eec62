/** Errors shared by the training, evaluation and export jobs (no tfjs here, so anything may import it). */
import { UserError } from '../core/errors';

/** A training run, job or setting the user can fix (a stage that does not fit, a loss that turned NaN). */
export class TrainingError extends UserError {}
