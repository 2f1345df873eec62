/** A problem in a graph document, in words a person can act on, pointing at the place it is. */
export interface Problem {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** The block it is about, when there is one. */
  readonly nodeId?: string;
  /** Where in the JSON document: ['nodes', 3, 'params', 'units']. */
  readonly path: readonly (string | number)[];
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** "nodes[3].params.units" — for one-line CLI output. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

export function formatProblem(p: Problem): string {
  const where = p.nodeId ? `node "${p.nodeId}"` : formatPath(p.path) || 'document';
  return `${p.severity}: ${where}: ${p.message}`;
}

/**
 * The sentence that refuses a graph with errors, in one line: the error itself when there is one
 * (`g.latent.json: node "dec": … Fix it before training.`), else how many and the first, pointing at
 * `more` for the rest (the CLI: `validate` lists them). `list: true` adds every error on its own line (the worker's log).
 */
export function graphProblemsSentence(file: string, problems: readonly Problem[], opts: { readonly before?: string; readonly list?: boolean; readonly more?: string } = {}): string {
  const errors = problems.filter((p) => p.severity === 'error');
  const where = (p: Problem): string => (p.nodeId ? `node "${p.nodeId}"` : formatPath(p.path) || 'document');
  const first = errors[0];
  const fix = opts.before ? ` Fix ${errors.length === 1 ? 'it' : 'them'} before ${opts.before}.` : '';
  const head =
    first === undefined
      ? `${file} has no errors.`
      : errors.length === 1
        ? `${file}: ${where(first)}: ${sentence(first.message)}${fix}`
        : `${file} has ${errors.length} errors${opts.more ? ` (${opts.more})` : ''}; the first: ${where(first)}: ${sentence(first.message)}${fix}`;
  return opts.list === true && errors.length > 1 ? `${head}\n${errors.map((p) => `  ${formatProblem(p)}`).join('\n')}` : head;
}

/** A message ending in a full stop (problems are written with or without one). */
function sentence(message: string): string {
  return /[.!?]$/.test(message.trimEnd()) ? message.trimEnd() : `${message.trimEnd()}.`;
}
