/**
 * Greedy layer-wise pretraining (seed 001's stacked autoencoder) on real MNIST: each encoder layer
 * learns as its own autoencoder, a softmax layer learns on the last codes, then the stack is
 * fine-tuned; the run records test accuracy before and after fine-tuning.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { type FromWorker, TrainRequestSchema } from '../../src/core/protocol';
import { type EpochRecord, RUN_FILES } from '../../src/core/runFormat';
import { train } from '../../src/train/trainer';

const graphPath = path.join(__dirname, '..', '..', 'samples', 'stacked-autoencoder.latent.json');

test('stacked autoencoder, 10 epochs per step: each layer learns its codes, fine-tuning beats the pretrained stack, ≥ 92 % on the test split', async () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-layerwise-'));
  const messages: FromWorker[] = [];
  // The issue's protocol: 8 000 training images (of which Keras' validation_split 0.1 holds 800 out,
  // as the seed does) and 2 000 test images.
  const graphText = fs.readFileSync(graphPath, 'utf8').replace('"split": {"validation": 0.1, "test": 0.2}', '"split": {"validation": 0.08, "test": 0.2}');
  assert.match(graphText, /"validation": 0\.08/);
  // Batch 32: the seed's number of weight updates per epoch (54 000 images / 256 = 211) on 7 200
  // images (225); batch 256 here would give each step 28 updates, an eighth of the seed's training.
  const request = TrainRequestSchema.parse({ graphText, graphPath, runsDir, epochs: 10, batchSize: 32, backend: 'wasm', batchProgressMs: 60_000 });
  const result = await train(request, (m) => messages.push(m), { cancelled: false });
  const epochs = messages.flatMap((m) => (m.type === 'epoch' ? [m.record] : []));
  const started = messages.find((m) => m.type === 'started');
  assert.ok(started?.type === 'started');
  assert.deepEqual(started.stages.map((s) => [s.name, s.kind, s.epochs]), [['pretrain', 'layerwise', 30], ['fine-tune', 'fit', 10]]);

  // Three steps of ten epochs: layer 1 (784→128), layer 2 (128→64), the softmax layer.
  const byStep = new Map<string, EpochRecord[]>();
  for (const r of epochs.filter((e) => e.stageIndex === 0)) byStep.set(r.stage, [...(byStep.get(r.stage) ?? []), r]);
  assert.deepEqual([...byStep.keys()], ['pretrain · layer 1 (784→128)', 'pretrain · layer 2 (128→64)', 'pretrain · softmax']);
  for (const [step, records] of byStep) {
    assert.equal(records.length, 10, step);
    assert.ok(records.at(-1)!.valLoss! < records[0]!.valLoss!, `${step}: validation loss ${records[0]!.valLoss} -> ${records.at(-1)!.valLoss}`);
  }
  assert.deepEqual(epochs.filter((e) => e.stageIndex === 0).map((e) => e.epoch), Array.from({ length: 30 }, (_, i) => i + 1));
  assert.ok(byStep.get('pretrain · softmax')!.at(-1)!.metrics.valAccuracy! > 0.5, 'the softmax layer learns on the pretrained codes');

  const pretraining = JSON.parse(fs.readFileSync(path.join(result.runDir, RUN_FILES.pretraining), 'utf8')) as { before: { testAccuracy: number }; after: { testAccuracy: number } };
  assert.ok(pretraining.after.testAccuracy > pretraining.before.testAccuracy, `fine-tuning improves: ${pretraining.before.testAccuracy} -> ${pretraining.after.testAccuracy}`);
  // The bar; measured 94.7 % (87.8 % before fine-tuning).
  assert.ok(pretraining.after.testAccuracy >= 0.92, `test accuracy after fine-tuning ${pretraining.after.testAccuracy}`);
  // Fine-tuning starts where pretraining left the stack: its epoch 0 is the pretrained classifier.
  const fineTune0 = epochs.find((e) => e.stageIndex === 1 && e.epoch === 0)!;
  assert.ok(Math.abs(fineTune0.metrics.valAccuracy! - byStep.get('pretrain · softmax')!.at(-1)!.metrics.valAccuracy!) < 1e-6);
  assert.equal(result.epochsCompleted, 40);
  fs.rmSync(runsDir, { recursive: true, force: true });
});
