/**
 * The PyTorch engine, host side: finds a Python with torch (python.ts), writes the graph's code
 * into `<run>/pytorch/` (model.py, train.py: src/export/pytorch), runs `train.py --json` as a child
 * process (under torchrun for several processes) and turns its JSON lines into the messages the
 * tfjs worker sends (started, batch, epoch, preview, log, done), so the CLI, the status bar and the
 * panel show either engine the same way. Stop is SIGINT (train.py ends after the running batch and
 * keeps the last epoch); a crash is a failed run with the interpreter's last words.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { z } from 'zod';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { BUILTIN_DATASETS } from '../core/format';
import { graphProblemsSentence } from '../core/problems';
import { DENOISING_CAPTION, type FromWorker, StagePlanSchema } from '../core/protocol';
import { EpochRecordSchema, RUN_FILES } from '../core/runFormat';
import { LATENT_STUDIO_VERSION } from '../core/version';
import { writeBuiltinNpz } from '../export/pytorch/builtinData';
import { pytorchModelCode } from '../export/pytorch/modelCode';
import { pytorchTrainCode } from '../export/pytorch/trainCode';
import { type KillReason, TrainingAborted, TrainingFailure, exitSentence } from './client';
import { type PythonChoices, findPython } from './python';
import { type DescribeModels, TFJS_MODELS, describedModels } from './pytorchExport';
import { createRunDir, markRunEnded, readOptionalRunJson, writeFileAtomic } from './runFolder';

export type DoneMessage = Extract<FromWorker, { type: 'done' }>;

export interface PytorchTrainRequest {
  readonly graphText: string;
  readonly graphPath: string;
  readonly runsDir: string;
  readonly resumeFrom?: string;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly data?: string;
  readonly labelColumn?: string;
  readonly limitSamples?: number;
  /** Train only these stages (the others are skipped); all without. */
  readonly stages?: readonly string[];
  /** Start from another run's checkpoint: the layers that match by name and shape. */
  readonly initFrom?: string;
  /** "cuda", "cuda:1", "mps", "cpu"; train.py picks the best without. */
  readonly device?: string;
  /** Processes on this machine (torchrun --nproc_per_node); 1 runs train.py directly. */
  readonly processes?: number;
  /** Where the built-in datasets are written as NPZ for Python (once). */
  readonly cacheDir: string;
  readonly python?: PythonChoices;
}

export interface PytorchSessionOptions {
  readonly onMessage?: (m: FromWorker) => void;
  /** How long a Stop may take before the process is killed. */
  readonly cancelGraceMs?: number;
  /** The graph's models in the tfjs layers format (a worker's topology job), so the run gets model/ as a tfjs run does. */
  readonly describeModels?: DescribeModels;
}

/** One JSON line of train.py --json. */
const EventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('started'), runDir: z.string(), device: z.string(), worldSize: z.number().int(), torch: z.string(), dataset: z.object({ source: z.string(), train: z.number().int(), validation: z.number().int(), test: z.number().int(), skipped: z.number().int() }), stages: z.array(StagePlanSchema) }),
  z.object({ event: z.literal('batch'), stageIndex: z.number().int(), epoch: z.number().int(), batch: z.number().int(), batches: z.number().int(), loss: z.number() }),
  z.object({ event: z.literal('epoch'), record: EpochRecordSchema, preview: z.object({ file: z.string(), denoising: z.boolean() }).nullable().optional(), classifier: z.object({ file: z.string(), strip: z.string().nullable() }).nullable().optional() }),
  z.object({ event: z.literal('log'), level: z.enum(['debug', 'info', 'warn']), message: z.string() }),
  z.object({ event: z.literal('done'), runDir: z.string(), stopped: z.boolean(), epochsCompleted: z.number().int(), bestValLoss: z.number().nullable() }),
  z.object({ event: z.literal('failed'), runDir: z.string().nullable().optional(), message: z.string() }),
]);
type TrainEvent = z.infer<typeof EventSchema>;

/** The dataset spec a run trains on names a built-in dataset: Python reads it from an NPZ we write. */
function builtinOf(spec: string): (typeof BUILTIN_DATASETS)[number] | undefined {
  return BUILTIN_DATASETS.find((b) => b === spec.trim());
}

/** Writes model.py and train.py for the graph into `dir`, and tfjs-models.json when given (train.py writes model/ from it). */
export function writePytorchCode(dir: string, graphText: string, graphPath: string, tfjsModels?: string): void {
  const parsed = parseJsonText(graphText);
  if (!parsed.ok) throw new TrainingFailure(`${graphPath}:${parsed.error.line}:${parsed.error.column}: invalid JSON: ${parsed.error.message}`);
  const analysis = analyzeGraph(parsed.value);
  if (!analysis.ok) throw new TrainingFailure(graphProblemsSentence(graphPath, analysis.problems, { before: 'training', list: true }));
  fs.mkdirSync(dir, { recursive: true });
  const label = path.basename(graphPath);
  writeFileAtomic(path.join(dir, 'model.py'), pytorchModelCode(analysis, { graphFile: label, version: LATENT_STUDIO_VERSION }));
  writeFileAtomic(path.join(dir, 'train.py'), pytorchTrainCode(analysis, { graphText, graphPath, graphFile: label, version: LATENT_STUDIO_VERSION }));
  if (tfjsModels) writeFileAtomic(path.join(dir, TFJS_MODELS), tfjsModels);
}

/** The built-in dataset as `<cacheDir>/pytorch/<name>.npz`, written once; returns its folder. */
export async function builtinDir(cacheDir: string, spec: string): Promise<string | undefined> {
  const name = builtinOf(spec);
  if (!name) return undefined;
  const dir = path.join(cacheDir, 'pytorch');
  const file = path.join(dir, `${name}.npz`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    await writeBuiltinNpz(name, file);
  }
  return dir;
}

export class PytorchSession {
  readonly result: Promise<DoneMessage>;
  private child: ChildProcess | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private cancelled = false;
  private killedFor: KillReason | undefined;

  constructor(
    private readonly request: PytorchTrainRequest,
    private readonly opts: PytorchSessionOptions = {},
  ) {
    this.result = this.start().finally(() => clearTimeout(this.killTimer));
    this.result.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stop after the running batch, keeping the last completed epoch; kill if it does not stop in time. */
  cancel(): void {
    this.cancelled = true;
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGINT');
    const graceMs = this.opts.cancelGraceMs ?? 15_000;
    this.killTimer ??= setTimeout(() => this.end({ kind: 'grace', seconds: Math.round(graceMs / 100) / 10 }), graceMs);
  }

  /** Abort now (a second Ctrl-C, VS Code closing): the run is recorded as stopped at its last completed epoch. */
  kill(): void {
    this.end({ kind: 'user' });
  }

  private end(reason: KillReason): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.killedFor ??= reason;
      this.child.kill('SIGKILL');
    }
  }

  private send(m: FromWorker): void {
    this.opts.onMessage?.(m);
  }

  private async start(): Promise<DoneMessage> {
    const req = this.request;
    const found = await findPython(req.python);
    if (!found.ok) throw new TrainingFailure(found.message);
    this.send({ type: 'log', level: 'info', message: `PyTorch engine: ${found.command} (${found.source}), Python ${found.python}, torch ${found.torch}, devices: ${found.devices.map((d) => `${d.kind} ${d.name}`).join(', ')}` });
    const runDir = req.resumeFrom ?? createRunDir(req.runsDir, req.graphPath);
    const codeDir = path.join(runDir, RUN_FILES.pytorchCode);
    const described = await describedModels(this.opts.describeModels, req.graphText, req.graphPath);
    if (described.warning) this.send({ type: 'log', level: 'warn', message: described.warning });
    writePytorchCode(codeDir, req.graphText, req.graphPath, described.text);
    const spec = req.data ?? (analyzeGraph(parseJsonOrNull(req.graphText)).document?.training.dataset ?? '');
    const builtins = await builtinDir(req.cacheDir, spec);
    const args = [
      path.join(codeDir, 'train.py'),
      '--json',
      ...(req.resumeFrom ? ['--resume', runDir] : ['--run-dir', runDir]),
      ...(req.epochs !== undefined ? ['--epochs', String(req.epochs)] : []),
      ...(req.batchSize ? ['--batch-size', String(req.batchSize)] : []),
      ...(req.limitSamples ? ['--limit', String(req.limitSamples)] : []),
      ...(req.data ? ['--data', req.data] : []),
      ...(req.labelColumn ? ['--label-column', req.labelColumn] : []),
      ...(req.device ? ['--device', req.device] : []),
      ...(req.stages ? ['--stage', req.stages.join(',')] : []),
      ...(req.initFrom ? ['--init-from', req.initFrom] : []),
      ...(builtins ? ['--builtin-dir', builtins] : []),
    ];
    const processes = req.processes ?? 1;
    // --redirects/--tee 2: torchrun of torch < 2 on Python 3.11 fails on its default "0" (Std.NONE is not
    // iterated by 3.11's IntFlag); stderr to its logs and the console, stdout (our JSON lines) as it is.
    const argv = processes > 1 ? ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', String(processes), '--redirects', '2', '--tee', '2', ...args] : args;
    return this.runChild(found.command, argv, runDir);
  }

  private runChild(command: string, argv: string[], runDir: string): Promise<DoneMessage> {
    return new Promise<DoneMessage>((resolve, reject) => {
      const child = spawn(command, argv, { cwd: path.dirname(this.request.graphPath), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
      this.child = child;
      if (this.cancelled) this.cancel();
      let done: DoneMessage | undefined;
      let failure: string | undefined;
      const stderr: string[] = [];
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const event = parseEvent(line);
        if (!event) {
          if (line.trim()) this.send({ type: 'log', level: 'debug', message: line });
          return;
        }
        const r = this.handle(event, runDir);
        if (r?.type === 'done') done = r;
        if (event.event === 'failed') failure = event.message;
      });
      readline.createInterface({ input: child.stderr! }).on('line', (line) => {
        stderr.push(line);
        if (stderr.length > 200) stderr.shift();
        this.send({ type: 'log', level: 'debug', message: line });
      });
      child.on('error', (e) => reject(new TrainingFailure(`Could not start ${command}: ${e.message}`, undefined, runDir)));
      child.on('close', (code, signal) => {
        if (done) return resolve(done);
        // Python's last line is its exception (the cause); a signal or our own kill says what happened instead.
        const last = stderr.filter((l) => l.trim()).at(-1) ?? '';
        const ended = exitSentence('train.py process', 'finishing', code, signal, this.killedFor);
        const message = failure ?? (signal || this.killedFor ? ended.message : `train.py exited with code ${code}${last ? `: ${last.replace(/^SystemExit:\s*/, '')}` : ''}`);
        const status = failure ? 'failed' : ended.status;
        markRunEnded(runDir, status, message);
        const detail = stderr.slice(-40).join('\n');
        reject(status === 'stopped' ? new TrainingAborted(message, detail, runDir) : new TrainingFailure(message, detail, runDir));
      });
    });
  }

  /** A classifier stage's epoch: confusion.json (checked with the run format's schema) and predictions.png as the panel's classifier message. */
  private sendClassifier(runDir: string, stageIndex: number, epoch: number, strip: string | null): void {
    const confusion = readOptionalRunJson(runDir, 'confusion');
    if (!confusion.ok || !confusion.value) {
      if (!confusion.ok) this.send({ type: 'log', level: 'warn', message: `The classifier pictures were not shown: ${confusion.error}` });
      return;
    }
    const c = confusion.value;
    let stripPngBase64 = '';
    try {
      if (strip) stripPngBase64 = fs.readFileSync(path.join(runDir, path.basename(strip))).toString('base64');
    } catch {
      // Predictions without their strip: the matrix still shows.
    }
    this.send({ type: 'classifier', stageIndex, epoch, outputId: c.outputId, preview: { classNames: c.classNames, confusion: c.confusion, stripPngBase64, labels: c.labels, predicted: c.predicted, confidence: c.confidence } });
  }

  /** One event as the worker's message; the done message when training ended. */
  private handle(event: TrainEvent, runDir: string): DoneMessage | undefined {
    switch (event.event) {
      case 'started':
        this.send({ type: 'started', inReplyTo: 0, runDir: event.runDir, backend: { name: 'pytorch', tfBackend: `torch ${event.torch}`, detail: `${event.device}${event.worldSize > 1 ? ` x ${event.worldSize} processes` : ''}`, skipped: [] }, dataset: event.dataset, stages: event.stages });
        return undefined;
      case 'batch':
        this.send({ type: 'batch', stageIndex: event.stageIndex, epoch: event.epoch, batch: event.batch, batches: event.batches, ...(Number.isFinite(event.loss) ? { loss: event.loss } : {}) });
        return undefined;
      case 'epoch': {
        this.send({ type: 'epoch', record: event.record });
        if (event.preview) {
          try {
            const png = fs.readFileSync(path.join(runDir, path.basename(event.preview.file)));
            const stage = readOptionalRunJson(runDir, 'config');
            const outputId = stage.ok ? stage.value?.stages[event.record.stageIndex]?.outputId : undefined;
            this.send({ type: 'preview', stageIndex: event.record.stageIndex, epoch: event.record.epoch, kind: 'reconstructions', pngBase64: png.toString('base64'), ...(outputId ? { outputId } : {}), ...(event.preview.denoising ? { caption: DENOISING_CAPTION } : {}) });
          } catch {
            // A preview that cannot be read is only a missing picture.
          }
        }
        if (event.classifier) this.sendClassifier(runDir, event.record.stageIndex, event.record.epoch, event.classifier.strip);
        return undefined;
      }
      case 'log':
        this.send({ type: 'log', level: event.level, message: event.message });
        return undefined;
      case 'done':
        return { type: 'done', inReplyTo: 0, runDir: event.runDir, backend: 'pytorch', stopped: event.stopped, epochsCompleted: event.epochsCompleted, bestValLoss: event.bestValLoss };
      case 'failed':
        return undefined;
    }
  }
}

function parseJsonOrNull(text: string): unknown {
  const p = parseJsonText(text);
  return p.ok ? p.value : null;
}

function parseEvent(line: string): TrainEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const r = EventSchema.safeParse(JSON.parse(line));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
