/** The version written into generated code and run folders is package.json's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LATENT_STUDIO_VERSION } from '../../src/core/version';
import { ROOT } from '../helpers/samples';

test('LATENT_STUDIO_VERSION is package.json\'s version', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(LATENT_STUDIO_VERSION, pkg.version);
});
