/**
 * A failure the user caused and can fix (a bad dataset file, a graph with problems, a corrupt run
 * folder): reported as its sentence alone, without a stack. Anything else is a defect of ours and
 * also carries the stack for --verbose and the log. Each kind names its place: `file` when it has one.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
