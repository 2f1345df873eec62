/**
 * What streaming live numbers to the training panel costs, measured on the path the extension uses:
 * the real worker process, IPC, the host's forwarding (one postMessage = one JSON serialisation),
 * the panel's validation, reducer and series computation.
 *
 * - overhead: samples/s of the dense sample with the panel's batch updates (a loss read-back every
 *   250 ms) versus without any (read-backs only at epoch ends, as the CLI with --json does), runs
 *   interleaved so drift hits both alike; target < 5 %.
 * - latency: from the worker making an epoch record (record.endedAt) to the panel state holding it;
 *   target ≤ 250 ms.
 * - stop: from Stop (a cancel sent mid-epoch) to the run's end, and the batches that ran after it;
 *   the run stops after the running batch, so well under the 2 s target. The webview's own hop is measured in code-server by test/e2e/training.e2e.ts
 *   (data-epoch-latency-ms on the panel) and written to .test-output/bench/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseToPanel } from '../src/core/panelProtocol';
import type { FromWorker } from '../src/core/protocol';
import type { BackendPreference } from '../src/core/backends';
import { TrainingSession } from '../src/run/client';
import { type PanelState, batchSeries, epochSeries, reducePanel } from '../webview/panel/state';

const GRAPH = path.join(__dirname, '..', 'samples', 'dense-autoencoder.latent.json');

interface Measured {
  samplesPerSec: number[];
  latencyMs: number[];
  messages: number;
  /** The backend the worker picked (the request may say auto). */
  backend?: string;
  /** Samples per epoch the worker actually trains (limitSamples capped by the training split). */
  trainSamples?: number;
}

async function trainOnce(withPanel: boolean, backend: BackendPreference, epochs: number, limitSamples: number): Promise<Measured> {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-stream-'));
  const out: Measured = { samplesPerSec: [], latencyMs: [], messages: 0 };
  let state: PanelState = null;
  const toPanel = (message: unknown): void => {
    // postMessage structured-clones; the webview validates and reduces, then charts read the series.
    const parsed = parseToPanel(JSON.parse(JSON.stringify(message)));
    if (!parsed.ok) throw new Error(`the panel refused a message: ${parsed.error}`);
    const m = parsed.value;
    state = reducePanel(state, m);
    if (state && m.type !== 'status') {
      epochSeries(state);
      batchSeries(state);
    }
  };
  const onMessage = (m: FromWorker): void => {
    if (m.type === 'started') {
      out.backend = m.backend.name;
      out.trainSamples = m.dataset.train;
    }
    if (!withPanel) {
      if (m.type === 'epoch' && m.record.epoch > 0) out.samplesPerSec.push(m.record.samplesPerSec);
      return;
    }
    out.messages++;
    switch (m.type) {
      case 'started':
        toPanel({ type: 'snapshot', snapshot: { run: { graphName: 'bench', graphFile: GRAPH, runDir: m.runDir, backend: m.backend, dataset: m.dataset.source, stages: m.stages }, status: 'running', message: null, epochs: [], batches: [], preview: null, classifier: null, evaluation: null, overlays: [] } });
        break;
      case 'batch':
        if (m.loss !== undefined) toPanel({ type: 'batch', point: { stageIndex: m.stageIndex, epoch: m.epoch, batch: m.batch, batches: m.batches, loss: m.loss } });
        break;
      case 'epoch':
        toPanel({ type: 'epoch', record: m.record });
        if (m.record.endedAt !== undefined) out.latencyMs.push(Date.now() - m.record.endedAt);
        if (m.record.epoch > 0) out.samplesPerSec.push(m.record.samplesPerSec);
        break;
      case 'preview':
        toPanel({ type: 'preview', epoch: m.epoch, pngBase64: m.pngBase64 });
        break;
      default:
        break;
    }
  };
  try {
    const session = new TrainingSession(
      { graphText: fs.readFileSync(GRAPH, 'utf8'), graphPath: GRAPH, runsDir, backend, epochs, limitSamples, limitValidation: 512, batchProgressMs: withPanel ? 250 : 1_000_000_000 },
      { onMessage },
    );
    await session.result;
    return out;
  } finally {
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
}

/** Stop mid-epoch (epoch 2, batch 20 of 110) and time it to the run's end; the median of `rounds`. */
async function stopLatency(backend: BackendPreference, rounds: number): Promise<{ stopMs: number; batchesAfterStop: number }> {
  const times: number[] = [];
  const after: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-bench-stop-'));
    let cancelledAt = 0;
    let batchesAfter = 0;
    try {
      const session: TrainingSession = new TrainingSession(
        { graphText: fs.readFileSync(GRAPH, 'utf8'), graphPath: GRAPH, runsDir, backend, epochs: 30, batchSize: 64, batchProgressMs: 0 },
        {
          onMessage: (m: FromWorker) => {
            if (m.type !== 'batch' || m.epoch !== 2) return;
            if (cancelledAt) batchesAfter++;
            else if (m.batch === 20) {
              cancelledAt = performance.now();
              session.cancel();
            }
          },
        },
      );
      await session.result;
      times.push(performance.now() - cancelledAt);
      after.push(batchesAfter);
    } finally {
      fs.rmSync(runsDir, { recursive: true, force: true });
    }
  }
  return { stopMs: Math.round(median(times)), batchesAfterStop: Math.max(...after) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : NaN;
};

export async function benchStreaming(opts: { backend?: BackendPreference; rounds?: number; epochs?: number; limitSamples?: number } = {}): Promise<Record<string, unknown>> {
  const backend = opts.backend ?? 'auto';
  const rounds = opts.rounds ?? 3;
  const epochs = opts.epochs ?? 3;
  const limitSamples = opts.limitSamples ?? 8192;
  const withPanel: Measured[] = [];
  const without: Measured[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so warm caches and thermal drift do not favour one side.
    if (r % 2 === 0) {
      without.push(await trainOnce(false, backend, epochs, limitSamples));
      withPanel.push(await trainOnce(true, backend, epochs, limitSamples));
    } else {
      withPanel.push(await trainOnce(true, backend, epochs, limitSamples));
      without.push(await trainOnce(false, backend, epochs, limitSamples));
    }
  }
  const sWith = median(withPanel.flatMap((m) => m.samplesPerSec));
  const sWithout = median(without.flatMap((m) => m.samplesPerSec));
  const latency = withPanel.flatMap((m) => m.latencyMs);
  return {
    bench: 'panel-streaming',
    model: 'dense-autoencoder',
    backend,
    tfjsBackend: [...withPanel, ...without].find((m) => m.backend)?.backend,
    epochs: epochs * rounds,
    samplesPerEpoch: withPanel[0]?.trainSamples ?? limitSamples,
    samplesPerSecWithoutPanel: Math.round(sWithout),
    samplesPerSecWithPanel: Math.round(sWith),
    overheadPct: Math.round(((sWithout - sWith) / sWithout) * 1000) / 10,
    overheadTargetPct: 5,
    epochToPanelMsMedian: Math.round(median(latency) * 10) / 10,
    epochToPanelMsMax: Math.round(Math.max(...latency) * 10) / 10,
    latencyTargetMs: 250,
    messagesPerRun: Math.round(withPanel.reduce((a, m) => a + m.messages, 0) / withPanel.length),
    ...(await stopLatency(backend, rounds)),
    stopTargetMs: 2000,
  };
}

if (require.main === module) {
  benchStreaming()
    .then((line) => process.stdout.write(`${JSON.stringify(line)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    });
}
