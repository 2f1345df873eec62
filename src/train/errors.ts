/** Errors shared by the training, evaluation and export jobs (no tfjs here, so anything may import it). */

/** A failure the user caused and can fix: reported as its message alone, without a stack. */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}
