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
 * The sentence that refuses a graph with errors: `<file> has 2 problem(s); fix them before training:`
 * and each error on its own line (`list: false`: the first line alone, for a notification).
 */
export function graphProblemsSentence(file: string, problems: readonly Problem[], opts: { readonly before?: string; readonly list?: boolean } = {}): string {
  const errors = problems.filter((p) => p.severity === 'error');
  const head = `${file} has ${errors.length} problem(s)${opts.before ? `; fix them before ${opts.before}` : ''}`;
  return opts.list === false ? `${head}.` : `${head}:\n${errors.map((p) => `  ${formatProblem(p)}`).join('\n')}`;
}
