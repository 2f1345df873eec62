/** Maps a problem's JSON path (['nodes', 3, 'params', 'units']) to the text range it stands for. */
import { type Node as JsonNode, findNodeAtLocation, parseTree } from 'jsonc-parser';

export interface TextRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * The deepest part of `path` that exists in the text: a missing `params.units` points at `params`,
 * so a diagnostic always lands on something the user can see.
 */
export function locatePath(text: string, path: readonly (string | number)[]): TextRange {
  const root = parseTree(text);
  if (!root) return { offset: 0, length: 0 };
  for (let n = path.length; n >= 0; n--) {
    const node: JsonNode | undefined = findNodeAtLocation(root, [...path.slice(0, n)]);
    if (!node) continue;
    // For a property value, underline the "key": value pair so the key is included.
    const target = node.parent?.type === 'property' ? node.parent : node;
    return { offset: target.offset, length: target.length };
  }
  return { offset: 0, length: 0 };
}
