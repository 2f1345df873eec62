/**
 * `npm run bench:webgpu`: what one training step costs the host on the webgpu backend — GPU
 * dispatches, host→device uploads, bind groups, queue submits and the host milliseconds spent in
 * tfjs kernels — for the seed dense and conv autoencoders, through the real training loop, with our
 * fused kernels on and off (src/backend/kernels/webgpu/optimizers.ts, webgpu/losses.ts, Feeder's device
 * batches). One JSON line per (model, mode).
 *
 * These counts do not depend on the GPU: on any adapter the same step issues the same dispatches and
 * uploads, and on an H100 through Dawn each dispatch costs ~0.1 ms and each upload ~0.9 ms of host
 * time (measured there; see docs/benchmarks.md). So they can be measured here on lavapipe
 * (`bash scripts/setup-software-gpu.sh`, then `--software`) and carry over; the milliseconds
 * cannot (lavapipe's own host cost per dispatch differs from a GPU driver's).
 *
 *   npm run bench:webgpu [-- --software] [--model dense-autoencoder] [--batch 256] [--batches 4] [--no-docs]
 *
 * and writes docs/webgpu-profile.md (with an estimate of the host time per step on an H100).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '../src/backend/tf';
import { TrainRequestSchema } from '../src/core/protocol';
import { train } from '../src/train/trainer';

const ROOT = path.join(__dirname, '..');
const MODES = {
  fused: {},
  unfused: { LATENT_WEBGPU_FUSED_OPTIMIZER: '0', LATENT_WEBGPU_FUSED_LOSS: '0', LATENT_WEBGPU_FUSED_GRADIENTS: '0', LATENT_DEVICE_BATCHES: '0', LATENT_FUSED_LAYERS: '0' },
} as const;

interface Counter {
  n: number;
  ms: number;
}

async function profile(
  model: string,
  batchSize: number,
  batches: number,
  mode: keyof typeof MODES,
): Promise<{ adapter: string; dispatches: number; uploads: number; bindGroups: number; uniformWrites: number; submits: number; ms: number }> {
  for (const k of ['LATENT_WEBGPU_FUSED_OPTIMIZER', 'LATENT_WEBGPU_FUSED_LOSS', 'LATENT_WEBGPU_FUSED_GRADIENTS', 'LATENT_DEVICE_BATCHES', 'LATENT_FUSED_LAYERS']) delete process.env[k];
  Object.assign(process.env, MODES[mode]);
  const counts = new Map<string, Counter>();
  let counting = false;
  const bump = (k: string, ms: number): void => {
    const c = counts.get(k) ?? { n: 0, ms: 0 };
    c.n++;
    c.ms += ms;
    counts.set(k, c);
  };
  const restore: (() => void)[] = [];
  const patch = (proto: Record<string, unknown>, name: string, label: string): void => {
    const orig = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      if (!counting) return orig.apply(this, args);
      const t = performance.now();
      const r = orig.apply(this, args);
      bump(label, performance.now() - t);
      return r;
    };
    restore.push(() => (proto[name] = orig));
  };
  const graphPath = path.join(ROOT, 'samples', `${model}.latent.json`);
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-webgpu-profile-'));
  const request = TrainRequestSchema.parse({
    graphText: fs.readFileSync(graphPath, 'utf8'),
    graphPath,
    runsDir,
    epochs: 2,
    batchSize,
    backend: 'webgpu',
    limitSamples: batchSize * batches,
    limitValidation: 64,
    batchProgressMs: 1e9,
  });
  let detail = '';
  let stepMs = 0;
  let t0 = 0;
  try {
    await train(
      request,
      (m) => {
        if (m.type === 'started' && restore.length === 0) {
          detail = m.backend.detail;
          const g = globalThis as unknown as Record<string, { prototype: Record<string, unknown> }>;
          patch(g.GPUDevice!.prototype, 'createBindGroup', 'bindGroups');
          patch(g.GPUQueue!.prototype, 'writeBuffer', 'writeBuffer');
          patch(g.GPUQueue!.prototype, 'submit', 'submits');
          patch(g.GPUComputePassEncoder!.prototype, 'dispatchWorkgroups', 'dispatches');
          const be = tf.backend() as unknown as { uploadToGPU(id: object): void; tensorMap: { get(id: object): { resource?: unknown; values?: unknown } } };
          const upload = be.uploadToGPU.bind(be);
          be.uploadToGPU = (id: object) => {
            const d = be.tensorMap.get(id);
            if (counting && d.resource == null && d.values != null) bump('uploads', 0);
            return upload(id);
          };
          restore.push(() => (be.uploadToGPU = upload));
        }
        // Epoch 2's steps only: epoch 1 compiles every pipeline.
        if (m.type === 'epoch' && m.record.epoch === 1) {
          counting = true;
          t0 = performance.now();
        }
        if (m.type === 'batch' && m.epoch === 2 && m.batch === batches) {
          counting = false;
          stepMs = (performance.now() - t0) / batches;
        }
      },
      { cancelled: false },
    );
  } finally {
    for (const r of restore.reverse()) r();
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
  const total = (k: string): number => counts.get(k)?.n ?? 0;
  return {
    adapter: detail,
    dispatches: total('dispatches'),
    uploads: total('uploads'),
    bindGroups: total('bindGroups'),
    uniformWrites: total('writeBuffer'),
    submits: total('submits'),
    ms: stepMs * batches,
  };
}

/**
 * Per step = the difference between a run of 2n and one of n steps, divided by n: the window also
 * holds once-per-epoch work (the previous epoch's preview and checkpoint, the epoch's order), which
 * cancels out.
 */
async function perStep(model: string, batchSize: number, n: number, mode: keyof typeof MODES) {
  const a = await profile(model, batchSize, n, mode);
  const b = await profile(model, batchSize, 2 * n, mode);
  const per = (k: 'dispatches' | 'uploads' | 'bindGroups' | 'uniformWrites' | 'submits' | 'ms'): number => Math.round(((b[k] - a[k]) / n) * 10) / 10;
  return {
    model,
    mode,
    batchSize,
    adapter: a.adapter,
    dispatchesPerStep: per('dispatches'),
    uploadsPerStep: per('uploads'),
    bindGroupsPerStep: per('bindGroups'),
    uniformWritesPerStep: per('uniformWrites'),
    submitsPerStep: per('submits'),
    stepMsOnThisAdapter: per('ms'),
  };
}

/** Host time per dispatch and per upload through Dawn on an H100, from the per-op probe quoted in issue 5. */
const H100_MS_PER_DISPATCH = 0.1;
const H100_MS_PER_UPLOAD = 0.9;
const DEFAULT_DOCS = path.join(ROOT, 'docs', 'webgpu-profile.md');

type Line = Awaited<ReturnType<typeof perStep>>;

function sampleBatchSize(model: string): number {
  const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'samples', `${model}.latent.json`), 'utf8')) as { training: { batchSize: number } };
  return doc.training.batchSize;
}

function writeDocs(file: string, lines: (Line | { model: string; mode: string; skipped: string })[], command: string): void {
  const ok = lines.filter((l): l is Line => !('skipped' in l));
  const adapter = ok[0]?.adapter ?? 'none';
  const L = [
    '# WebGPU: the work of one training step',
    '',
    `Written by \`${command}\` on ${new Date().toISOString().slice(0, 10)}. Adapter: ${adapter}. Host: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}.`,
    '',
    'Per training step of each seed model through the real training loop (src/train/trainer.ts), with Latent Studio\'s webgpu kernels (`fused`: one-dispatch optimizer updates, losses and activation gradients, Dense and Conv2D with bias and ReLU in their kernel while training, batches assembled on the device) and without them (`unfused`: tfjs\' own ops and layers; the upload-free gradients of src/backend/gradientFixes.ts stay on). Counts per step are the difference between a run of 2n and one of n steps, divided by n, so once-per-epoch work cancels out.',
    '',
    '| Model | Batch | Mode | Dispatches | Uploads | Bind groups | Uniform writes | Submits | Est. H100 host ms | Est. ceiling samples/s |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const l of lines) {
    if ('skipped' in l) {
      L.push(`| ${l.model} | | ${l.mode} | skipped: ${l.skipped} | | | | | | |`);
      continue;
    }
    const ms = l.dispatchesPerStep * H100_MS_PER_DISPATCH + l.uploadsPerStep * H100_MS_PER_UPLOAD;
    L.push(
      `| ${l.model} | ${l.batchSize} | ${l.mode} | ${l.dispatchesPerStep} | ${l.uploadsPerStep} | ${l.bindGroupsPerStep} | ${l.uniformWritesPerStep} | ${l.submitsPerStep} | ${ms.toFixed(1)} | ${Math.round((l.batchSize / ms) * 1000).toLocaleString('en-US')} |`,
    );
  }
  L.push(
    '',
    '## Reading it',
    '',
    `- The counts barely depend on the adapter: the same step issues the same ops and uploads on lavapipe (a CPU Vulkan driver, \`--software\`) as on a GPU; only where tfjs picks a program by the adapter's limits (a reduction in one pass or two) can a count differ. The milliseconds of this adapter are in the JSON lines (\`stepMsOnThisAdapter\`); on lavapipe they are the CPU doing the GPU's arithmetic and say nothing about a GPU.`,
    `- **Estimates, not measurements**: "Est. H100 host ms" = dispatches × ${H100_MS_PER_DISPATCH} ms + uploads × ${H100_MS_PER_UPLOAD} ms, the host cost per op on resident tensors and per fresh upload measured through Dawn on an H100 (issue 5's per-op probe). "Est. ceiling" = batch / that time: what the host side alone would allow, GPU arithmetic not counted. PyTorch eager on that H100: 102,566 samples/s (dense), 39,406 (conv); the issue's target is a third of those.`,
    '- Run `npm run bench:webgpu` on a machine with a GPU (no `--software`) to measure the same step there.',
    '',
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${L.join('\n')}`);
}

async function main(): Promise<void> {
  const program = new Command('bench:webgpu')
    .option('--model <name...>', 'samples to profile', ['dense-autoencoder', 'fashion-conv-autoencoder'])
    .option('--batch <n>', "batch size (default: each sample's own)", (v) => Number.parseInt(v, 10))
    .option('--batches <n>', 'steps per epoch of the shorter of the two runs compared', (v) => Number.parseInt(v, 10), 4)
    .option('--software', 'run on lavapipe from scripts/setup-software-gpu.sh (no GPU needed)')
    .addOption(new Option('--docs <file>', 'where to write the report').default(DEFAULT_DOCS, 'docs/webgpu-profile.md'))
    .option('--no-docs', 'do not write the report')
    .parse();
  const opts = program.opts<{ model: string[]; batch?: number; batches: number; software?: boolean; docs: string | false }>();
  if (opts.software) {
    const icd = path.join(ROOT, '.cache', 'software-gpu', 'lvp_icd.json');
    if (!fs.existsSync(icd)) throw new Error(`${icd} is missing: run bash scripts/setup-software-gpu.sh first`);
    process.env.VK_ICD_FILENAMES = icd;
    process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
    process.env.LATENT_WEBGPU_SOFTWARE = '1';
  }
  const lines: (Line | { model: string; mode: string; skipped: string })[] = [];
  for (const model of opts.model) {
    for (const mode of Object.keys(MODES) as (keyof typeof MODES)[]) {
      try {
        lines.push(await perStep(model, opts.batch ?? sampleBatchSize(model), opts.batches, mode));
      } catch (e) {
        lines.push({ model, mode, skipped: (e instanceof Error ? e.message : String(e)).split('\n')[0]! });
      }
      console.log(JSON.stringify(lines[lines.length - 1]));
    }
  }
  if (opts.docs !== false) {
    const command = ['npm run bench:webgpu', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
    writeDocs(opts.docs, lines, command);
    console.error(`wrote ${path.relative(process.cwd(), opts.docs)}`);
  }
}

void main();
