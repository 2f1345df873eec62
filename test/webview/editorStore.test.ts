/**
 * The graph editor's store (webview/editor/store.ts) against a stand-in host: an edit is drawn at
 * once (applied with src/core, as the host applies it), the host's documents are held while the
 * edit is in flight, a refused edit rolls back to the host's document, and an accepted one keeps
 * the drawn objects (nothing is redrawn when the host's copy matches).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleText } from '../helpers/samples';

type Posted = { type: string; id: number; edit?: unknown };
const posted: Posted[] = [];
let store: typeof import('../../webview/editor/store');

before(async () => {
  // What VS Code gives a webview: the API object and the window its host messages arrive on.
  const g = globalThis as unknown as { window: EventTarget; acquireVsCodeApi: () => unknown };
  g.window = new EventTarget();
  g.acquireVsCodeApi = () => ({ postMessage: (m: Posted) => posted.push(m), getState: () => undefined, setState: () => undefined });
  store = await import('../../webview/editor/store');
});

const fromHost = (data: unknown): void => void (globalThis as unknown as { window: EventTarget }).window.dispatchEvent(new MessageEvent('message', { data }));
const text = sampleText('simple-autoencoder');
const latentSize = (): unknown => {
  const d = store.getState().document;
  assert.equal(d.kind, 'graph');
  return (d.value.nodes as { id: string; params: Record<string, unknown> }[]).find((n) => n.id === 'code')!.params.latentSize;
};
const shapeOfCode = (): unknown => {
  const d = store.getState().document;
  return d.kind === 'graph' ? d.analysis.nodes.get('code')?.outputShape : undefined;
};

test('an edit is drawn before the host answers; a refused one rolls back to the host\'s document', () => {
  fromHost({ type: 'document', text, version: 1, fileName: 'simple.latent.json' });
  assert.equal(latentSize(), 32);
  store.sendEdit({ kind: 'setParam', id: 'code', path: ['latentSize'], value: 8 });
  const sent = posted.at(-1)!;
  assert.deepEqual([sent.type, typeof sent.id], ['edit', 'number']);
  assert.equal(latentSize(), 8, 'drawn at once');
  assert.deepEqual(shapeOfCode(), [8], 'and analyzed: the shapes follow');
  // A document from before the edit (the host had not applied it yet) does not undo what is drawn.
  fromHost({ type: 'document', text, version: 2, fileName: 'simple.latent.json' });
  assert.equal(latentSize(), 8);
  fromHost({ type: 'editFailed', inReplyTo: sent.id, message: 'The file is read-only.' });
  assert.equal(latentSize(), 32, 'rolled back to the host\'s document');
  assert.equal(store.getState().toast?.message, 'The file is read-only.');
  assert.equal(store.getState().version, 2);
});

test('an accepted edit keeps the drawn objects when the host\'s copy matches; a different host copy wins', () => {
  store.sendEdit({ kind: 'setParam', id: 'code', path: ['latentSize'], value: 4 });
  const sent = posted.at(-1)!;
  const drawn = store.getState().document;
  const edited = text.replace('"latentSize": 32', '"latentSize": 4');
  fromHost({ type: 'document', text: edited, version: 3, fileName: 'simple.latent.json' });
  fromHost({ type: 'editApplied', inReplyTo: sent.id });
  assert.equal(store.getState().document, drawn, 'the same objects: nothing to redraw');
  assert.equal(store.getState().version, 3);
  // The host did something else too (a text editor beside it): its document is shown once the edit is answered.
  store.sendEdit({ kind: 'setParam', id: 'code', path: ['latentSize'], value: 6 });
  const next = posted.at(-1)!;
  fromHost({ type: 'document', text: edited.replace('"latentSize": 4', '"latentSize": 7'), version: 4, fileName: 'simple.latent.json' });
  assert.equal(latentSize(), 6, 'still the edit while it is in flight');
  fromHost({ type: 'editApplied', inReplyTo: next.id });
  assert.equal(latentSize(), 7, 'the host\'s document is the truth');
});

test('edits that add blocks are not drawn ahead (the host names and selects them)', () => {
  const before = store.getState().document;
  store.sendEdit({ kind: 'addNode', type: 'Dense', position: { x: 0, y: 0 } });
  assert.equal(store.getState().document, before);
  assert.equal(posted.at(-1)!.type, 'edit');
});
