/** Writes media/latent-graph.schema.json from the zod schemas (a test checks it is up to date). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildJsonSchema } from '../src/core/jsonSchema';

const file = path.join(__dirname, '..', 'media', 'latent-graph.schema.json');
fs.writeFileSync(file, `${JSON.stringify(buildJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
