/**
 * `latent-studio` command line: summary, validate and train, headless. Training runs in the same
 * worker process the extension uses. Commander parses arguments (zero dependencies, well kept);
 * cli-progress draws the bar on terminals.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { formatProblem } from '../core/problems';
import { BACKEND_NAMES, type BackendPreference, type EpochRecord, type FromWorker } from '../core/protocol';
import { formatSummaryTable, summarize } from '../core/summary';
import { TrainingFailure, TrainingSession } from '../train/client';

/** A failure to report as one line (the user's input was wrong), not as a crash. */
class CliError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
  }
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const err = (line: string): void => void process.stderr.write(`${line}\n`);

function readGraph(file: string): { text: string; value: unknown; absolute: string } {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${file}: cannot read the graph file (${code === 'ENOENT' ? 'no such file' : code ?? String(e)})`);
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new CliError(`${file}:${parsed.error.line}:${parsed.error.column}: invalid JSON: ${parsed.error.message}`);
  return { text, value: parsed.value, absolute };
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1.`);
    return n;
  };
}

function fmt(n: number | null | undefined, digits = 4): string {
  return n === null || n === undefined ? '-' : n.toFixed(digits);
}

function epochLine(r: EpochRecord): string {
  const metrics = Object.entries(r.metrics)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join('  ');
  return `[${r.stage}] epoch ${r.epoch}  loss ${fmt(r.loss)}  val_loss ${fmt(r.valLoss)}${metrics ? `  ${metrics}` : ''}  ${r.seconds.toFixed(1)}s  ${Math.round(r.samplesPerSec)} samples/s`;
}

/** The JSON line per epoch: `{epoch, loss, valLoss, ...metrics, seconds, samplesPerSec, backend}`. */
function epochJson(r: EpochRecord): Record<string, unknown> {
  return { stage: r.stage, epoch: r.epoch, loss: r.loss, valLoss: r.valLoss, ...r.metrics, seconds: r.seconds, samplesPerSec: r.samplesPerSec, backend: r.backend, liveTensors: r.liveTensors };
}

interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  backend: BackendPreference;
  data?: string;
  out?: string;
  json?: boolean;
  limit?: number;
  verbose?: boolean;
}

async function trainCommand(file: string, o: TrainOptions): Promise<void> {
  const graph = readGraph(file);
  const analysis = analyzeGraph(graph.value);
  if (!analysis.ok) {
    const errors = analysis.problems.filter((p) => p.severity === 'error');
    throw new CliError(`${file} has ${errors.length} problem(s); fix them before training:\n${errors.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  }
  const runsDir = path.resolve(o.out ?? path.join(process.cwd(), '.latent', 'runs'));
  const tty = !o.json && process.stderr.isTTY === true;
  let bar: SingleBar | undefined;
  let barStage = -1;
  let barEpoch = -1;
  const stagePlans: { name: string; epochs: number }[] = [];

  const onMessage = (m: FromWorker): void => {
    switch (m.type) {
      case 'log':
        if (m.level === 'warn' || (m.level === 'info' && !o.json) || (m.level === 'debug' && o.verbose)) err(m.message);
        break;
      case 'started':
        stagePlans.push(...m.stages);
        if (!o.json) {
          err(`backend: ${m.backend.name} (${m.backend.detail})`);
          for (const s of m.backend.skipped) err(`  skipped ${s.name}: ${s.reason}`);
          err(`data: ${m.dataset.source}: ${m.dataset.train} train / ${m.dataset.validation} validation / ${m.dataset.test} test${m.dataset.skipped ? ` (${m.dataset.skipped} malformed rows skipped)` : ''}`);
          err(`run: ${m.runDir}`);
        }
        break;
      case 'batch':
        if (!tty) break;
        if (m.stageIndex !== barStage || m.epoch !== barEpoch) {
          bar?.stop();
          barStage = m.stageIndex;
          barEpoch = m.epoch;
          const plan = stagePlans[m.stageIndex];
          bar = new SingleBar(
            { format: `${plan?.name ?? 'train'} epoch ${m.epoch}/${plan?.epochs ?? '?'} [{bar}] {value}/{total} batches | loss {loss} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: true, stream: process.stderr },
          );
          bar.start(m.batches, 0, { loss: '-' });
        }
        bar?.update(m.batch, { loss: fmt(m.loss) });
        break;
      case 'epoch':
        bar?.stop();
        bar = undefined;
        barEpoch = -1;
        if (o.json) out(JSON.stringify(epochJson(m.record)));
        else err(epochLine(m.record));
        break;
      default:
        break;
    }
  };

  const session = new TrainingSession(
    { graphText: graph.text, graphPath: graph.absolute, runsDir, epochs: o.epochs, batchSize: o.batchSize, backend: o.backend, data: o.data, limitSamples: o.limit },
    { onMessage },
  );
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    bar?.stop();
    if (interrupts === 1) {
      err('Stopping after this batch (the last completed epoch is kept); press Ctrl-C again to abort.');
      session.cancel();
    } else session.kill();
  };
  process.on('SIGINT', onSigint);
  try {
    const done = await session.result;
    bar?.stop();
    if (o.json) out(JSON.stringify({ runDir: done.runDir, backend: done.backend, stopped: done.stopped, epochsCompleted: done.epochsCompleted, bestValLoss: done.bestValLoss }));
    else err(`${done.stopped ? 'Stopped' : 'Done'}: ${done.epochsCompleted} epoch(s), best val_loss ${fmt(done.bestValLoss)}. Run folder: ${done.runDir}`);
  } catch (e) {
    bar?.stop();
    if (e instanceof TrainingFailure) throw new CliError(e.message, e.detail);
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('latent-studio')
    .description('Build, check and train Latent Studio autoencoder graphs (*.latent.json) from the command line.')
    .option('--verbose', 'print stack traces with errors')
    .exitOverride();

  program
    .command('summary')
    .description('Print a Keras-style summary: layers, output shapes, parameter counts.')
    .argument('<graph>', 'a *.latent.json file')
    .option('--json', 'print {layers, totalParams, trainableParams, nonTrainableParams} as JSON')
    .action((file: string, o: { json?: boolean }) => {
      const graph = readGraph(file);
      const analysis = analyzeGraph(graph.value);
      const errors = analysis.problems.filter((p) => p.severity === 'error');
      if (errors.length) throw new CliError(`${file} has ${errors.length} problem(s):\n${errors.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
      const summary = summarize(analysis);
      if (o.json) {
        out(JSON.stringify({ layers: summary.layers.map(({ name, type, outputShape, params, trainable }) => ({ name, type, outputShape, params, trainable })), totalParams: summary.totalParams, trainableParams: summary.trainableParams, nonTrainableParams: summary.nonTrainableParams }));
      } else out(formatSummaryTable(summary));
    });

  program
    .command('validate')
    .description('Check a graph: prints every problem, exits 1 when there is an error.')
    .argument('<graph>', 'a *.latent.json file')
    .option('--json', 'print {ok, problems: [{severity, message, nodeId, path}]} as JSON')
    .action((file: string, o: { json?: boolean }) => {
      const graph = readGraph(file);
      const analysis = analyzeGraph(graph.value);
      if (o.json) out(JSON.stringify({ ok: analysis.ok, problems: analysis.problems }));
      else if (analysis.problems.length === 0) out(`${file}: no problems (${analysis.totals.params.toLocaleString('en-US')} parameters)`);
      else for (const p of analysis.problems) out(`${file}: ${formatProblem(p)}`);
      if (!analysis.ok) process.exitCode = 1;
    });

  program
    .command('train')
    .description('Train a graph in a worker process and write a run folder (.latent/runs/<time>-<name>/).')
    .argument('<graph>', 'a *.latent.json file')
    .option('--epochs <n>', 'epochs per stage (overrides the file)', positiveInt('--epochs'))
    .option('--batch-size <n>', 'batch size (overrides the file)', positiveInt('--batch-size'))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices([...BACKEND_NAMES, 'auto']).default('auto'))
    .option('--data <spec>', 'dataset: mnist, fashion-mnist, idx:<images>,<labels>, csv:<file>')
    .option('--out <dir>', 'folder for run folders (default ./.latent/runs)')
    .option('--limit <n>', 'train on at most n samples (quick checks)', positiveInt('--limit'))
    .option('--json', 'one JSON object per epoch on stdout, then {runDir, backend}')
    .action((file: string, o: TrainOptions, cmd: Command) => trainCommand(file, { ...o, verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose }));
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Commander already printed its message (help, version or a usage error).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 1;
    }
    if (e instanceof CliError) {
      err(`latent-studio: ${e.message}`);
      if (verbose && e.detail) err(e.detail);
    } else {
      err(`latent-studio: ${e instanceof Error ? e.message : String(e)}`);
      if (verbose && e instanceof Error && e.stack) err(e.stack);
    }
    return 1;
  }
}
