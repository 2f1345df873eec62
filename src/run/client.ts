/**
 * Host side of the training worker, shared by the CLI and the extension: forks the worker, checks
 * every message it sends (core/messages.ts), and turns a crash, a rejected request or a silence
 * into a failed job instead of a stuck caller. Nothing waits without a deadline: the worker must
 * say `ready` within `readyMs` of starting and `accepted` within `acceptMs` of each request; after
 * that a job may run as long as it takes, and its exit ends the wait.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DatasetCard, DescribeRequest } from '../core/datasetCard';
import type { InspectRequest, InspectResult } from '../core/inspect';
import { RequestIds, createReceiver } from '../core/messages';
import { type EvaluateRequest, type ExportRequest, type ExportedModel, type FromWorker, FromWorkerSchema, type GenerateRequest, type Generated, type TfjsModels, type ToWorker, type TopologyRequest, type TrainRequest } from '../core/protocol';
import { type BackendInfo, type BackendPreference } from '../core/backends';
import type { Evaluation } from '../core/runFormat';
import { markRunEnded, markRunFailed } from './runFolder';

export type DoneMessage = Extract<FromWorker, { type: 'done' }>;

export class TrainingFailure extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    readonly runDir?: string,
  ) {
    super(message);
    this.name = 'TrainingFailure';
  }
}

/**
 * A run that ended because someone asked it to (a second Ctrl-C, Stop when the worker did not stop in
 * time, VS Code closing): its run.json says `stopped`, and resuming continues from its last checkpoint.
 */
export class TrainingAborted extends TrainingFailure {
  constructor(message: string, detail?: string, runDir?: string) {
    super(message, detail, runDir);
    this.name = 'TrainingAborted';
  }
}

/** Why we killed a process ourselves: the user aborted, or a Stop was not obeyed within its grace period. */
export type KillReason = { readonly kind: 'user' } | { readonly kind: 'grace'; readonly seconds: number };

/**
 * The sentence for a process that ended before it answered: what happened, not its stderr (that
 * goes to the log: a WebGPU probe's Vulkan warnings are no cause). `stopped` when we ended it on
 * request; `failed` for a signal from elsewhere or an exit code.
 */
export function exitSentence(who: string, what: string, code: number | null, signal: NodeJS.Signals | null, killed: KillReason | undefined): { message: string; status: 'stopped' | 'failed' } {
  const kept = 'the run keeps its last completed epoch, and Resume continues from there';
  if (killed?.kind === 'user') return { status: 'stopped', message: `Aborted by the user before ${what}: ${kept}.` };
  if (killed?.kind === 'grace') return { status: 'stopped', message: `Stopped: the ${who} did not stop within ${killed.seconds} s of the request, so it was ended; ${kept}.` };
  if (signal) {
    const number = os.constants.signals[signal];
    const cause = signal === 'SIGKILL' ? ' (kill -9, or the system ending it when memory ran out)' : signal === 'SIGSEGV' || signal === 'SIGBUS' || signal === 'SIGABRT' ? ' (a crash in native code: its output is in the log)' : '';
    return { status: 'failed', message: `The ${who} was killed by signal ${signal}${number !== undefined ? ` (${number})` : ''} before ${what}${cause}.` };
  }
  return { status: 'failed', message: `The ${who} exited with code ${code ?? '?'} before ${what}; its last output is in the log.` };
}

export interface WorkerLaunch {
  readonly modulePath: string;
  readonly execArgv: readonly string[];
}

/** The bundled worker next to this file, or the TypeScript source run through tsx in development. */
export function defaultWorkerLaunch(): WorkerLaunch {
  const bundled = path.join(__dirname, 'worker.js');
  if (__filename.endsWith('.js') && fs.existsSync(bundled)) return { modulePath: bundled, execArgv: [] };
  return { modulePath: path.join(__dirname, '..', 'train', 'worker.ts'), execArgv: ['--import', 'tsx'] };
}

/** Extra folders the worker resolves packages from (e.g. where the user installed tfjs-node). */
export function nodePathEnv(extraNodeModules: readonly string[]): NodeJS.ProcessEnv {
  const parts = [...extraNodeModules.filter(Boolean), ...(process.env.NODE_PATH ? [process.env.NODE_PATH] : [])];
  return parts.length ? { NODE_PATH: parts.join(path.delimiter) } : {};
}

/**
 * The wasm backend's threads for a worker the extension starts (`latentStudio.trainingThreads`):
 * 1-8 forces that many; 0 (auto) leaves the choice to the worker, keeping one core for VS Code.
 * The variables are read by src/backend/kernels/wasm/threads.ts; with auto, a LATENT_WASM_THREADS
 * in VS Code's own environment still decides.
 */
export function wasmThreadsEnv(setting: number): NodeJS.ProcessEnv {
  if (Number.isInteger(setting) && setting >= 1) return { LATENT_WASM_THREADS: String(Math.min(setting, 8)) };
  return { LATENT_WASM_KEEP_CORES: '1', LATENT_WASM_KEEP_FOR: 'VS Code' };
}

/** How long a worker may take to start (it loads tfjs) and to acknowledge a request. */
export const WORKER_DEADLINES = { readyMs: 60_000, acceptMs: 30_000 } as const;

export interface WorkerOptions {
  readonly launch?: WorkerLaunch;
  readonly env?: NodeJS.ProcessEnv;
  /** Every valid message the worker sends (logs included, and a warning for each rejected one), as it arrives. */
  readonly onMessage?: (message: FromWorker) => void;
  /** Deadlines for `ready` and `accepted` (tests shorten them). */
  readonly deadlines?: { readonly readyMs?: number; readonly acceptMs?: number };
}

/** A request as the caller builds it: the connection gives it its id. */
type Unsent<M> = M extends ToWorker ? Omit<M, 'id'> : never;

/**
 * One worker process and its one job: sends `request` once the worker is ready, resolves with what
 * `answer` picks from its messages, and rejects with a TrainingFailure on a `failed` reply to the
 * job, a missed deadline, a start error or an exit before the answer. Later requests (cancel) get
 * their own ids; a failure reply to one of those is logged, not fatal.
 */
class WorkerJob<T> {
  readonly result: Promise<T>;
  private readonly child: ChildProcess;
  private readonly ids = new RequestIds();
  private readonly jobId = this.ids.next();
  private readonly awaiting = new Map<number, NodeJS.Timeout>();
  private readyTimer: NodeJS.Timeout | undefined;
  private stderr = '';
  private settled = false;
  private killedFor: KillReason | undefined;
  private resolveJob: (value: T) => void = () => undefined;
  private rejectJob: (failure: TrainingFailure) => void = () => undefined;
  /** The run folder the job writes to, once the worker said so. */
  runDir: string | undefined;

  constructor(
    private readonly request: Unsent<ToWorker>,
    private readonly answer: (m: FromWorker) => T | undefined,
    private readonly what: string,
    private readonly opts: WorkerOptions,
  ) {
    const launch = opts.launch ?? defaultWorkerLaunch();
    this.child = fork(launch.modulePath, [], {
      execArgv: [...launch.execArgv],
      // Under VS Code process.execPath is Electron; this makes it behave as plain Node.
      env: { ...process.env, ...opts.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.result = new Promise<T>((resolve, reject) => {
      this.resolveJob = resolve;
      this.rejectJob = reject;
    });
    const receive = createReceiver(FromWorkerSchema, { from: 'worker', log: (line) => opts.onMessage?.({ type: 'log', level: 'warn', message: line }) });
    this.child.on('message', (raw: unknown) => {
      const m = receive(raw);
      if (m) this.onMessage(m);
    });
    this.child.on('error', (e) => this.fail(new TrainingFailure(`Could not start the training worker: ${e.message}`, e.stack)));
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
    const readyMs = opts.deadlines?.readyMs ?? WORKER_DEADLINES.readyMs;
    this.readyTimer = setTimeout(() => this.fail(this.silence(`did not start within ${readyMs / 1000} s`)), readyMs);
    // Callers may only care about messages; an unobserved rejection must not crash the host.
    this.result.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Send a further request (cancel) with the next id; false when the worker is gone. */
  send(message: Unsent<ToWorker>): boolean {
    if (this.settled || !this.child.connected) return false;
    this.post(message, this.ids.next());
    return true;
  }

  /** Ends the worker; with a reason, its run is recorded as stopped on that account. */
  kill(reason?: KillReason): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.killedFor ??= reason;
      this.child.kill('SIGKILL');
    }
  }

  private post(message: Unsent<ToWorker>, id: number): void {
    const acceptMs = this.opts.deadlines?.acceptMs ?? WORKER_DEADLINES.acceptMs;
    this.awaiting.set(id, setTimeout(() => this.fail(this.silence(`did not answer its ${message.type} request within ${acceptMs / 1000} s`)), acceptMs));
    this.child.send({ ...message, id });
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready') {
      clearTimeout(this.readyTimer);
      this.post(this.request, this.jobId);
    }
    if ('inReplyTo' in m && m.inReplyTo !== undefined) {
      clearTimeout(this.awaiting.get(m.inReplyTo));
      this.awaiting.delete(m.inReplyTo);
    }
    if (m.type === 'started') this.runDir = m.runDir;
    this.opts.onMessage?.(m);
    if (m.type === 'failed') {
      if (m.inReplyTo === undefined || m.inReplyTo === this.jobId) this.fail(new TrainingFailure(m.error.message, m.error.detail, m.runDir ?? this.runDir));
      else this.opts.onMessage?.({ type: 'log', level: 'warn', message: `The worker refused request ${m.inReplyTo}: ${m.error.message}` });
      return;
    }
    const value = this.answer(m);
    if (value !== undefined && !this.settled) {
      this.settle();
      this.resolveJob(value);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.settled) return;
    const { message, status } = exitSentence('training worker', this.what, code, signal, this.killedFor);
    if (this.runDir) markRunEnded(this.runDir, status, message);
    const detail = this.stderr.trim() ? `The worker's last output:\n${this.stderr.trim()}` : undefined;
    this.fail(status === 'stopped' ? new TrainingAborted(message, detail, this.runDir) : new TrainingFailure(message, detail, this.runDir));
  }

  /** A worker that stopped talking: it is killed, and the run folder (if any) marked failed. */
  private silence(how: string): TrainingFailure {
    const message = `The training worker ${how}, so it was stopped.`;
    if (this.runDir) markRunFailed(this.runDir, message);
    return new TrainingFailure(message, this.stderr || undefined, this.runDir);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.readyTimer);
    for (const t of this.awaiting.values()) clearTimeout(t);
    this.awaiting.clear();
  }

  private fail(failure: TrainingFailure): void {
    if (this.settled) return;
    this.settle();
    this.rejectJob(failure);
    // Nothing more is expected of it: a worker left running after a failure only holds memory.
    this.kill();
  }
}

/** Ask a fresh worker which backend it would train on, and why each better one is unavailable. */
export function probeBackend(opts: WorkerOptions & { backend?: BackendPreference } = {}): Promise<BackendInfo> {
  return new WorkerJob({ type: 'probe', backend: opts.backend ?? 'auto' }, (m) => (m.type === 'probed' ? m.backend : undefined), 'answering', opts).result;
}

/** Score a run's checkpointed model on a split of its dataset, in a fresh worker; writes evaluation.json. */
export function evaluateRun(request: EvaluateRequest, opts: WorkerOptions = {}): Promise<Evaluation> {
  return new WorkerJob({ type: 'evaluate', request }, (m) => (m.type === 'evaluated' ? m.evaluation : undefined), 'finishing the evaluation', opts).result;
}

/** Write a run's models (checkpoint weights) to `<outDir>/<model name>/`, in a fresh worker. */
export function exportRun(request: ExportRequest, opts: WorkerOptions = {}): Promise<ExportedModel[]> {
  return new WorkerJob({ type: 'export', request }, (m) => (m.type === 'exported' ? m.models : undefined), 'finishing the export', opts).result;
}

/** Decode random codes of a variational autoencoder's run (generated.png, and manifold.png for a 2-D code), in a fresh worker. */
export function generateRun(request: GenerateRequest, opts: WorkerOptions = {}): Promise<Generated> {
  return new WorkerJob({ type: 'generate', request }, (m) => (m.type === 'generated' ? m.generated : undefined), 'finishing generating', opts).result;
}

/** Run an inspect job (anomaly scores, predictions, weights, feature maps, latent space) on a run, in a fresh worker. */
export function inspectRun(request: InspectRequest, opts: WorkerOptions = {}): Promise<InspectResult> {
  return new WorkerJob({ type: 'inspect', request }, (m) => (m.type === 'inspected' ? m.result : undefined), 'finishing the inspection', opts).result;
}

/** The dataset card of a graph (its dataset read for its Input), in a fresh worker. */
export function describeDataset(request: DescribeRequest, opts: WorkerOptions = {}): Promise<DatasetCard> {
  return new WorkerJob({ type: 'describe', request }, (m) => (m.type === 'described' ? m.card : undefined), 'reading the dataset', opts).result;
}

/** A graph's models in the tfjs layers format without weights (the PyTorch engine writes model/ from it), in a fresh worker. */
export function tfjsTopologies(request: TopologyRequest, opts: WorkerOptions = {}): Promise<TfjsModels> {
  return new WorkerJob({ type: 'topology', request }, (m) => (m.type === 'topologies' ? m.models : undefined), 'describing the models', opts).result;
}

export interface TrainingSessionOptions extends WorkerOptions {
  /** How long a cancelled worker may take to stop before it is killed. */
  readonly cancelGraceMs?: number;
}

/** A training run in its own worker: messages as they come, `result` when it ends, cancel and kill. */
export class TrainingSession {
  readonly result: Promise<DoneMessage>;
  private readonly job: WorkerJob<DoneMessage>;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(request: TrainRequest, private readonly opts: TrainingSessionOptions = {}) {
    this.job = new WorkerJob({ type: 'start', request }, (m) => (m.type === 'done' ? m : undefined), 'finishing', opts);
    this.result = this.job.result.finally(() => clearTimeout(this.killTimer));
    this.result.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.job.pid;
  }

  /** Stop after the running batch, keeping the last completed epoch; kill if it does not stop in time. */
  cancel(): void {
    if (!this.job.send({ type: 'cancel' })) return;
    const graceMs = this.opts.cancelGraceMs ?? 10_000;
    this.killTimer ??= setTimeout(() => this.job.kill({ kind: 'grace', seconds: Math.round(graceMs / 100) / 10 }), graceMs);
  }

  /** Abort now (a second Ctrl-C, VS Code closing): the run is recorded as stopped at its last completed epoch. */
  kill(): void {
    this.job.kill({ kind: 'user' });
  }
}
