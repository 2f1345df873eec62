import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { buildJsonSchema } from '../../src/core/jsonSchema';
import { ROOT, SAMPLE_NAMES, sample } from '../helpers/samples';

const schemaFile = path.join(ROOT, 'media', 'latent-graph.schema.json');

test('the shipped JSON Schema is generated from the current zod schemas (run npm run schema)', () => {
  assert.deepEqual(JSON.parse(fs.readFileSync(schemaFile, 'utf8')), buildJsonSchema());
});

test('package.json registers the schema for *.latent.json', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { jsonValidation: { fileMatch: string; url: string }[] } };
  const entry = pkg.contributes.jsonValidation.find((j) => j.fileMatch === '*.latent.json');
  assert.ok(entry);
  assert.ok(fs.existsSync(path.join(ROOT, entry.url)));
});

test('samples pass the JSON Schema; bad block params and unknown types fail it', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(buildJsonSchema());
  for (const name of SAMPLE_NAMES) assert.equal(validate(sample(name)), true, `${name}: ${JSON.stringify(validate.errors)}`);
  const bad = sample('dense-autoencoder');
  (bad.nodes as { params: Record<string, unknown> }[])[2]!.params.latentSize = 0;
  assert.equal(validate(bad), false);
  assert.ok(validate.errors!.some((e) => e.instancePath === '/nodes/2/params/latentSize'));
  const unknown = sample('dense-autoencoder');
  (unknown.nodes as { type: string }[])[1]!.type = 'Encodr';
  assert.equal(validate(unknown), false);
});
