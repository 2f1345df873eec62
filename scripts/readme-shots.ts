/**
 * `npm run readme-shots`: the walkthrough's and the README's pictures, from the screenshots the
 * end-to-end suite took of the real product (.test-output/readme/, by test/e2e/walkthrough.e2e.ts
 * and test/e2e/workflows.e2e.ts), scaled to 1000 px wide at most and palette-compressed into
 * media/walkthrough/ (which ships in the .vsix; the README links the same files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

const ROOT = path.join(__dirname, '..');
const FROM = path.join(ROOT, '.test-output', 'readme');
const TO = path.join(ROOT, 'media', 'walkthrough');
/** Each picture and the end-to-end test that takes it. */
const SHOTS: Record<string, string> = {
  editor: 'test/e2e/walkthrough.e2e.ts',
  training: 'test/e2e/walkthrough.e2e.ts',
  reconstructions: 'test/e2e/walkthrough.e2e.ts',
  export: 'test/e2e/walkthrough.e2e.ts',
  anomalies: 'test/e2e/workflows.e2e.ts',
};

async function main(): Promise<void> {
  const missing = Object.entries(SHOTS).filter(([name]) => !fs.existsSync(path.join(FROM, `${name}.png`)));
  if (missing.length > 0) {
    throw new Error(`missing in .test-output/readme: ${missing.map(([n, t]) => `${n}.png (run ${t})`).join(', ')}`);
  }
  fs.mkdirSync(TO, { recursive: true });
  for (const name of Object.keys(SHOTS)) {
    const to = path.join(TO, `${name}.png`);
    await sharp(path.join(FROM, `${name}.png`))
      .resize({ width: 1000, withoutEnlargement: true })
      .png({ palette: true, quality: 90, compressionLevel: 9 })
      .toFile(to);
    const { width, height } = await sharp(to).metadata();
    process.stdout.write(`${path.relative(ROOT, to)}: ${width}x${height}, ${Math.round(fs.statSync(to).size / 1024)} KB\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`readme-shots: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
