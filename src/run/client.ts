/**
 * Host side of the training worker, shared by the CLI and the extension: forks the worker, checks
 * every message it sends, and turns a crash or a hang into a failed run instead of a stuck caller.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type BackendInfo,
  type BackendPreference,
  type EvaluateRequest,
  type Evaluation,
  type ExportRequest,
  type ExportedModel,
  type FromWorker,
  type GenerateRequest,
  type Generated,
  type ToWorker,
  type TrainRequest,
  parseFromWorker,
} from '../core/protocol';
import { markRunFailed } from './runFolder';
import type { InspectRequest, InspectResult } from '../core/inspect';

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

export interface TrainingSessionOptions {
  readonly launch?: WorkerLaunch;
  readonly onMessage?: (message: FromWorker) => void;
  /** How long a cancelled worker may take to stop before it is killed. */
  readonly cancelGraceMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

function forkWorker(launch: WorkerLaunch, env: NodeJS.ProcessEnv | undefined): ChildProcess {
  return fork(launch.modulePath, [], {
    execArgv: [...launch.execArgv],
    // Under VS Code process.execPath is Electron; this makes it behave as plain Node.
    env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    serialization: 'json',
  });
}

/** Extra folders the worker resolves packages from (e.g. where the user installed tfjs-node). */
export function nodePathEnv(extraNodeModules: readonly string[]): NodeJS.ProcessEnv {
  const parts = [...extraNodeModules.filter(Boolean), ...(process.env.NODE_PATH ? [process.env.NODE_PATH] : [])];
  return parts.length ? { NODE_PATH: parts.join(path.delimiter) } : {};
}

export interface OneShotOptions {
  readonly launch?: WorkerLaunch;
  readonly env?: NodeJS.ProcessEnv;
  /** Every valid message the worker sends (logs included), as it arrives. */
  readonly onMessage?: (message: FromWorker) => void;
}

/**
 * Run one job in a fresh worker: send `request` once it is ready, resolve with what `answer` picks
 * from its messages, and turn a 'failed' reply, a start error or an early exit into a TrainingFailure.
 */
function oneShot<T>(request: ToWorker, answer: (m: FromWorker) => T | undefined, what: string, opts: OneShotOptions): Promise<T> {
  const child = forkWorker(opts.launch ?? defaultWorkerLaunch(), opts.env);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
    };
    child.on('message', (raw: unknown) => {
      const parsed = parseFromWorker(raw);
      if (!parsed.ok) {
        opts.onMessage?.({ type: 'log', level: 'warn', message: parsed.error });
        return;
      }
      const m = parsed.message;
      if (m.type === 'ready') child.send(request);
      opts.onMessage?.(m);
      const value = answer(m);
      if (value !== undefined) settle(() => resolve(value));
      if (m.type === 'failed') settle(() => reject(new TrainingFailure(m.error.message, m.error.detail, m.runDir)));
    });
    child.on('error', (e) => settle(() => reject(new TrainingFailure(`Could not start the training worker: ${e.message}`, e.stack))));
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed (${signal})` : `exited (code ${code})`;
      const tail = stderr.trim().split('\n').pop();
      settle(() => reject(new TrainingFailure(`The training worker ${how} before ${what}${tail ? `: ${tail}` : ''}.`, stderr || undefined)));
    });
  });
}

/** Ask a fresh worker which backend it would train on, and why each better one is unavailable. */
export function probeBackend(opts: { backend?: BackendPreference; launch?: WorkerLaunch; env?: NodeJS.ProcessEnv } = {}): Promise<BackendInfo> {
  return oneShot({ type: 'probe', messageId: 1, backend: opts.backend ?? 'auto' }, (m) => (m.type === 'probed' ? m.backend : undefined), 'answering', opts);
}

/** Score a run's checkpointed model on a split of its dataset, in a fresh worker; writes evaluation.json. */
export function evaluateRun(request: EvaluateRequest, opts: OneShotOptions = {}): Promise<Evaluation> {
  return oneShot({ type: 'evaluate', messageId: 1, request }, (m) => (m.type === 'evaluated' ? m.evaluation : undefined), 'finishing the evaluation', opts);
}

/** Write a run's models (checkpoint weights) to `<outDir>/<model name>/`, in a fresh worker. */
export function exportRun(request: ExportRequest, opts: OneShotOptions = {}): Promise<ExportedModel[]> {
  return oneShot({ type: 'export', messageId: 1, request }, (m) => (m.type === 'exported' ? m.models : undefined), 'finishing the export', opts);
}

/** Decode random codes of a variational autoencoder's run (generated.png, and manifold.png for a 2-D code), in a fresh worker. */
export function generateRun(request: GenerateRequest, opts: OneShotOptions = {}): Promise<Generated> {
  return oneShot({ type: 'generate', messageId: 1, request }, (m) => (m.type === 'generated' ? m.generated : undefined), 'finishing generating', opts);
}

/** Run an inspect job (anomaly scores, predictions, weights, feature maps, latent space) on a run, in a fresh worker. */
export function inspectRun(request: InspectRequest, opts: OneShotOptions = {}): Promise<InspectResult> {
  return oneShot({ type: 'inspect', messageId: 1, request }, (m) => (m.type === 'inspected' ? m.result : undefined), 'finishing the inspection', opts);
}

export class TrainingSession {
  readonly result: Promise<DoneMessage>;
  private readonly child: ChildProcess;
  private runDir: string | undefined;
  private settled = false;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(request: TrainRequest, private readonly opts: TrainingSessionOptions = {}) {
    this.child = forkWorker(opts.launch ?? defaultWorkerLaunch(), opts.env);
    let stderr = '';
    this.child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.result = new Promise<DoneMessage>((resolve, reject) => {
      const fail = (f: TrainingFailure): void => {
        if (this.settled) return;
        this.settled = true;
        clearTimeout(this.killTimer);
        reject(f);
      };
      this.child.on('message', (raw: unknown) => {
        const parsed = parseFromWorker(raw);
        if (!parsed.ok) {
          opts.onMessage?.({ type: 'log', level: 'warn', message: parsed.error });
          return;
        }
        const m = parsed.message;
        if (m.type === 'ready') this.child.send({ type: 'start', messageId: 1, request });
        if (m.type === 'started') this.runDir = m.runDir;
        opts.onMessage?.(m);
        if (m.type === 'done' && !this.settled) {
          this.settled = true;
          clearTimeout(this.killTimer);
          resolve(m);
        }
        if (m.type === 'failed') fail(new TrainingFailure(m.error.message, m.error.detail, m.runDir ?? this.runDir));
      });
      this.child.on('error', (e) => fail(new TrainingFailure(`Could not start the training worker: ${e.message}`, e.stack)));
      this.child.on('exit', (code, signal) => {
        if (this.settled) return;
        const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        const message = `The training worker ${how} before finishing${tail ? `: ${tail}` : ''}.`;
        if (this.runDir) markRunFailed(this.runDir, message);
        fail(new TrainingFailure(message, stderr, this.runDir));
      });
    });
    // Callers may only care about messages; an unobserved rejection must not crash the host.
    this.result.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stop after the running batch, keeping the last completed epoch; kill if it does not stop in time. */
  cancel(): void {
    if (this.settled || !this.child.connected) return;
    this.child.send({ type: 'cancel', messageId: 2 });
    this.killTimer ??= setTimeout(() => this.kill(), this.opts.cancelGraceMs ?? 10_000);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
