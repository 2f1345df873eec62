/**
 * Training worker entry: a child process started with fork(), one job per process — a training run,
 * an evaluation, an export or generating samples (tfjs backends are process-global state, and
 * exiting returns every byte to the OS).
 */
import * as tf from '@tensorflow/tfjs';
import { DatasetError } from '../data/types';
import { type FromWorker, parseToWorker } from '../core/protocol';
import { selectBackend } from '../backend/select';
import { TrainingError } from './errors';
import { runEvaluation } from './jobs/evaluate';
import { runExport } from './jobs/export';
import { runGenerate } from './jobs/generate';
import { runInspect } from './jobs/inspect/index';
import { ModelFileError } from './modelFiles';
import { train } from './trainer';

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

// Production mode: no debug checks, and no "install tfjs-node" banner on stderr (we report backends ourselves).
tf.env().set('PROD', true);

const cancel = { cancelled: false };
let started = false;

/** Errors the user can act on travel as their message; anything else also carries the stack for --verbose. */
function describe(e: unknown): { message: string; detail?: string } {
  if (e instanceof TrainingError || e instanceof DatasetError || e instanceof ModelFileError) return { message: e.message };
  if (e instanceof Error) return { message: e.message, detail: e.stack };
  return { message: String(e) };
}

process.on('message', (raw: unknown) => {
  const parsed = parseToWorker(raw);
  if (!parsed.ok) {
    void send({ type: 'log', level: 'warn', message: parsed.error });
    return;
  }
  const msg = parsed.message;
  if (msg.type === 'cancel') {
    cancel.cancelled = true;
    return;
  }
  if (msg.type === 'probe') {
    started = true;
    selectBackend({ prefer: msg.backend })
      .then((backend) => send({ type: 'probed', inReplyTo: msg.messageId, backend }))
      .catch((e: unknown) => send({ type: 'failed', inReplyTo: msg.messageId, error: describe(e) }))
      .finally(() => process.exit(0));
    return;
  }
  if (started) {
    void send({ type: 'failed', inReplyTo: msg.messageId, error: { message: 'This worker already ran a job; start a new one.' } });
    return;
  }
  started = true;
  const job: Promise<FromWorker> =
    msg.type === 'evaluate'
      ? runEvaluation(msg.request, (m) => void send(m)).then((evaluation) => ({ type: 'evaluated', inReplyTo: msg.messageId, evaluation }))
      : msg.type === 'export'
        ? runExport(msg.request).then((models) => ({ type: 'exported', inReplyTo: msg.messageId, models }))
        : msg.type === 'generate'
          ? runGenerate(msg.request).then((generated) => ({ type: 'generated', inReplyTo: msg.messageId, generated }))
          : msg.type === 'inspect'
            ? runInspect(msg.request, (m) => void send(m)).then((result) => ({ type: 'inspected', inReplyTo: msg.messageId, result }))
            : train(msg.request, (m) => void send(m), cancel, msg.messageId).then((result) => ({ type: 'done', inReplyTo: msg.messageId, ...result }));
  job
    .then((reply) => send(reply))
    .catch((e: unknown) => {
      const runDir = e instanceof Error && 'runDir' in e && typeof e.runDir === 'string' ? e.runDir : undefined;
      return send({ type: 'failed', inReplyTo: msg.messageId, runDir, error: describe(e) });
    })
    .finally(() => process.exit(0));
});

// Ctrl-C in a terminal signals the whole process group; the host decides what it means (stop after
// the running batch, or kill), so the worker must not die of it mid-write.
process.on('SIGINT', () => undefined);

// The host went away: nobody is listening, so stop rather than train into the void.
process.on('disconnect', () => process.exit(0));

void send({ type: 'ready', pid: process.pid });
