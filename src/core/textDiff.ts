/** The smallest single replacement turning one text into another: keeps undo steps and cursors beside the graph tidy. */
export interface TextReplacement {
  /** Offsets into the old text. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export function minimalReplacement(oldText: string, newText: string): TextReplacement | null {
  if (oldText === newText) return null;
  let start = 0;
  const max = Math.min(oldText.length, newText.length);
  while (start < max && oldText.charCodeAt(start) === newText.charCodeAt(start)) start++;
  let oldEnd = oldText.length;
  let newEnd = newText.length;
  while (oldEnd > start && newEnd > start && oldText.charCodeAt(oldEnd - 1) === newText.charCodeAt(newEnd - 1)) {
    oldEnd--;
    newEnd--;
  }
  return { start, end: oldEnd, text: newText.slice(start, newEnd) };
}
