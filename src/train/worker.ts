/**
 * Training worker entry: a child process started with fork(), one job per process — a training run,
 * an evaluation, an export, generating samples or an inspection (tfjs backends are process-global
 * state, and exiting returns every byte to the OS).
 *
 * Every request is answered: `accepted` at once, then the job's result or `failed`. A message that
 * does not validate is logged and, when it was a request, answered with `failed` naming the fault
 * (core/messages.ts), so no caller waits for a reply that will not come.
 */
import * as tf from '../backend/tf';
import { UserError } from '../core/errors';
import { createReceiver } from '../core/messages';
import { DatasetCardSchema } from '../core/datasetCard';
import { type FromWorker, ToWorkerSchema, type ToWorkerMessage } from '../core/protocol';
import { selectBackend } from '../backend/select';
import { runDescribe } from './jobs/describe';
import { runEvaluation } from './jobs/evaluate';
import { runExport } from './jobs/export';
import { runGenerate } from './jobs/generate';
import { runInspect } from './jobs/inspect/index';
import { runTopology } from './jobs/topology';
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

/** Errors the user can act on travel as their sentence; anything else also carries the stack for --verbose. */
function describe(e: unknown): { message: string; detail?: string } {
  if (e instanceof UserError) return { message: e.message };
  if (e instanceof Error) return { message: e.message, detail: e.stack };
  return { message: String(e) };
}

const exitAfter = (p: Promise<unknown>): void => void p.finally(() => process.exit(0));

type JobRequest = Exclude<ToWorkerMessage, { type: 'cancel' | 'probe' }>;
const log = (m: FromWorker): void => void send(m);

/** The job a request names, resolving with the reply that ends it. */
function runJob(msg: JobRequest): Promise<FromWorker> {
  const inReplyTo = msg.id;
  switch (msg.type) {
    case 'evaluate':
      return runEvaluation(msg.request, log).then((evaluation) => ({ type: 'evaluated', inReplyTo, evaluation }));
    case 'export':
      return runExport(msg.request).then((models) => ({ type: 'exported', inReplyTo, models }));
    case 'generate':
      return runGenerate(msg.request).then((generated) => ({ type: 'generated', inReplyTo, generated }));
    case 'inspect':
      return runInspect(msg.request, log).then((result) => ({ type: 'inspected', inReplyTo, result }));
    case 'describe':
      return runDescribe(msg.request).then((card) => ({ type: 'described', inReplyTo, card: DatasetCardSchema.parse(card) }));
    case 'topology':
      return runTopology(msg.request).then((models) => ({ type: 'topologies', inReplyTo, models }));
    case 'start':
      return train(msg.request, log, cancel, inReplyTo).then((result) => ({ type: 'done', inReplyTo, ...result }));
  }
}

const receive = createReceiver(ToWorkerSchema, {
  from: 'host',
  log: (line) => void send({ type: 'log', level: 'warn', message: line }),
  reject: (r) => {
    const reply = send({ type: 'failed', inReplyTo: r.inReplyTo, error: { message: r.error } });
    // A request that never became a job leaves nothing to wait for: this process is done.
    if (!started) exitAfter(reply);
  },
});

process.on('message', (raw: unknown) => {
  const msg = receive(raw);
  if (!msg) return;
  if (msg.type === 'cancel') {
    cancel.cancelled = true;
    void send({ type: 'accepted', inReplyTo: msg.id });
    return;
  }
  if (started) {
    void send({ type: 'failed', inReplyTo: msg.id, error: { message: 'This worker already ran a job; start a new one.' } });
    return;
  }
  started = true;
  void send({ type: 'accepted', inReplyTo: msg.id });
  if (msg.type === 'probe') {
    exitAfter(
      selectBackend({ prefer: msg.backend })
        .then((backend) => send({ type: 'probed', inReplyTo: msg.id, backend }))
        .catch((e: unknown) => send({ type: 'failed', inReplyTo: msg.id, error: describe(e) })),
    );
    return;
  }
  exitAfter(
    runJob(msg)
      .then((reply) => send(reply))
      .catch((e: unknown) => {
        const runDir = e instanceof Error && 'runDir' in e && typeof e.runDir === 'string' ? e.runDir : undefined;
        return send({ type: 'failed', inReplyTo: msg.id, runDir, error: describe(e) });
      }),
  );
});

// Ctrl-C in a terminal signals the whole process group; the host decides what it means (stop after
// the running batch, or kill), so the worker must not die of it mid-write.
process.on('SIGINT', () => undefined);

// The host went away: nobody is listening, so stop rather than train into the void.
process.on('disconnect', () => process.exit(0));

void send({ type: 'ready', pid: process.pid });
