import { test } from 'node:test';
import assert from 'node:assert/strict';
import { graphFileName } from '../../src/core/fileNames';

test('a graph saved from a template is named *.latent.json, whatever the save dialog appended', () => {
  assert.equal(graphFileName('dense-autoencoder.latent.json'), 'dense-autoencoder.latent.json');
  // code-server's dialog appends the filter's extension to a name that already has it.
  assert.equal(graphFileName('dense-autoencoder.latent.json.latent.json'), 'dense-autoencoder.latent.json');
  assert.equal(graphFileName('mine.json'), 'mine.latent.json');
  assert.equal(graphFileName('mine'), 'mine.latent.json');
  assert.equal(graphFileName('v2.model'), 'v2.model.latent.json');
});
