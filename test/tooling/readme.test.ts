/** The README a user reads first (on the Marketplace, in VS Code's extension page, on GitHub): its pictures and links are there. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/samples';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test('every picture and relative link of the README exists; the pictures are PNGs that ship in the .vsix', () => {
  const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t) && !t.startsWith('#'));
  assert.ok(targets.length >= 5, `links and pictures (${targets.join(', ')})`);
  for (const t of targets) assert.ok(fs.existsSync(path.join(ROOT, t)), `README links ${t}, which is missing`);
  const pictures = [...readme.matchAll(/!\[[^\]]+\]\(([^)]+)\)/g)].map((m) => m[1]!);
  assert.ok(pictures.length >= 3, 'screenshots of the editor, the panel and the anomalies');
  for (const p of pictures) {
    assert.match(p, /^media\/walkthrough\/[\w-]+\.png$/, `${p}: a picture from the e2e suite (npm run readme-shots)`);
    assert.equal(fs.readFileSync(path.join(ROOT, p)).subarray(1, 4).toString('latin1'), 'PNG');
  }
});

test('the README keeps the two set-up commands and the five things to try', () => {
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
  const tries = readme.split('## Five things to try')[1]?.split('\n## ')[0] ?? '';
  assert.equal([...tries.matchAll(/^\d\. \*\*/gm)].length, 5);
});
