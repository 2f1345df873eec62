import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseToEditor } from '../../src/core/editorProtocol';
import { EMPTY_RUN_VIEW, previewFor, reduceRunView } from '../../webview/editor/previews';

test('the editor keeps the newest preview per Output block', () => {
  let v = reduceRunView(EMPTY_RUN_VIEW, { type: 'preview', outputId: 'reconstruction', epoch: 1, pngBase64: 'A', caption: 'epoch 1' });
  v = reduceRunView(v, { type: 'preview', outputId: 'classes', epoch: 1, pngBase64: 'B', caption: 'epoch 1' });
  v = reduceRunView(v, { type: 'preview', outputId: 'reconstruction', epoch: 2, pngBase64: 'C', caption: 'epoch 2' });
  assert.deepEqual(previewFor(v.previews, 'reconstruction'), { epoch: 2, pngBase64: 'C', caption: 'epoch 2' });
  assert.equal(previewFor(v.previews, 'classes')?.pngBase64, 'B');
  // A new run starts again at epoch 1: the last preview sent is the newest, not the highest epoch.
  v = reduceRunView(v, { type: 'preview', outputId: 'reconstruction', epoch: 1, pngBase64: 'D', caption: 'epoch 1 (new run)' });
  assert.equal(previewFor(v.previews, 'reconstruction')?.pngBase64, 'D');
  assert.deepEqual(EMPTY_RUN_VIEW.previews, {}, 'the empty view is not mutated');
});

test('blocks without a preview have none, whatever their id', () => {
  const v = reduceRunView(EMPTY_RUN_VIEW, { type: 'preview', outputId: 'out', epoch: 1, pngBase64: 'A', caption: '' });
  for (const id of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'other']) assert.equal(previewFor(v.previews, id), undefined, id);
  const proto = reduceRunView(EMPTY_RUN_VIEW, { type: 'preview', outputId: '__proto__', epoch: 3, pngBase64: 'P', caption: '' });
  assert.equal(previewFor(proto.previews, '__proto__')?.epoch, 3, 'an id like "__proto__" is stored as data');
  assert.equal(Object.getPrototypeOf(proto.previews), Object.prototype);
});

test('training on/off; other messages leave the view as it is', () => {
  let v = reduceRunView(EMPTY_RUN_VIEW, { type: 'training', running: true });
  assert.equal(v.training, true);
  assert.equal(reduceRunView(v, { type: 'training', running: true }), v, 'no change, same object (no re-render)');
  v = reduceRunView(v, { type: 'training', running: false });
  assert.equal(v.training, false);
  assert.equal(reduceRunView(v, { type: 'notice', message: 'hi' }), v);
});

test('preview and training messages are validated before they reach the store', () => {
  assert.ok(parseToEditor({ type: 'preview', outputId: 'o', epoch: 1, pngBase64: 'A', caption: 'c' }).ok);
  assert.ok(!parseToEditor({ type: 'preview', outputId: 'o', epoch: 1.5, pngBase64: 'A', caption: 'c' }).ok);
  assert.ok(!parseToEditor({ type: 'preview', outputId: 'o', epoch: 1, pngBase64: 'A' }).ok);
  assert.ok(!parseToEditor({ type: 'training', running: 'yes' }).ok);
});
