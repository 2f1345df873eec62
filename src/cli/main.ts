/**
 * `latent-studio` command line: summary, validate, train (and resume), evaluate, export, generate,
 * score, predict and inspect (src/cli/inspect.ts), headless. Training runs in the same worker process
 * the extension uses. Commander parses arguments (zero dependencies, well kept); cli-progress draws
 * the bar on terminals.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { analyzeGraph } from '../core/analyze';
import { parseJsonText } from '../core/canonical';
import { type Problem, formatProblem, graphProblemsSentence } from '../core/problems';
import { type FromWorker } from '../core/protocol';
import { type BackendPreference } from '../core/backends';
import { type EpochRecord, type Evaluation, RUN_FILES } from '../core/runFormat';
import { type ModelSummary, SummaryError, formatSummaryTable, summarize, summarizeModel, summarizeModels } from '../core/summary';
import { TrainingAborted, TrainingFailure, TrainingSession, evaluateRun, exportRun, generateRun, tfjsTopologies } from '../run/client';
import { CliError, backendOption, dataOption, err, fmt, nonNegativeInt, out, positiveInt, printLogs } from './common';
import { registerInspectCommands } from './inspect';
import { notAFolder, readGraphSnapshot } from '../run/runFolder';
import { exportPytorch } from '../run/pytorchExport';
import { exportOnnx } from '../run/onnxExport';
import { importModel } from '../run/importModel';
import { PytorchSession } from '../run/pytorchEngine';
import { defaultCacheDir } from '../data/cache';
import { ENGINES, type Engine } from '../core/format';
import { UserError } from '../core/errors';
import { DATA_SPEC_HELP, parseDataSpec } from '../data/spec';
import type { DataSpec } from '../data/types';
import { LATENT_STUDIO_VERSION } from '../core/version';

/** A graph file that cannot be read or is not JSON: the sentence, and the problem `validate --json` prints. */
class GraphReadError extends CliError {
  constructor(message: string, readonly problem: Problem) {
    super(message);
  }
}

function readGraph(file: string): { text: string; value: unknown; absolute: string } {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? String(e));
    const message = `cannot read the graph file (${why})`;
    throw new GraphReadError(`${file}: ${message}`, { severity: 'error', message, path: [] });
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    const { line, column, message } = parsed.error;
    throw new GraphReadError(`${file}:${line}:${column}: invalid JSON: ${message}`, { severity: 'error', message: `invalid JSON at line ${line}, column ${column}: ${message}`, path: [] });
  }
  return { text, value: parsed.value, absolute };
}

/** A warning for each file the graph's training.dataset names that is not there (training would stop at it). */
function datasetFileProblems(doc: unknown, graphDir: string): Problem[] {
  const dataset = (doc as { training?: { dataset?: unknown } } | null)?.training?.dataset;
  if (typeof dataset !== 'string') return [];
  let spec: DataSpec;
  try {
    spec = parseDataSpec(dataset, graphDir);
  } catch {
    return []; // the analysis reports a spec it cannot read
  }
  const paths = spec.kind === 'idx' ? [spec.images, spec.labels] : spec.kind === 'npy' ? [spec.x, spec.y] : spec.kind === 'csv' || spec.kind === 'npz' ? [spec.file] : spec.kind === 'folder' ? [spec.dir] : [];
  return paths
    .filter((p): p is string => p !== null && !fs.existsSync(p))
    .map((p) => ({ severity: 'warning' as const, path: ['training', 'dataset'], message: `${p} is not there (paths in a graph file start at its folder): training would stop at it.` }));
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
  resume?: string;
  epochs?: number;
  batchSize?: number;
  backend: BackendPreference;
  data?: string;
  labelColumn?: string;
  out?: string;
  json?: boolean;
  limit?: number;
  verbose?: boolean;
  /** Stage names to train, or every stage ("all", as when the option is left out). */
  stage?: string[] | 'all';
  initFrom?: string;
  engine: Engine;
  python?: string;
  device?: string;
  processes?: number;
}

/**
 * `--stage all` (every stage) or `--stage a,b`: the names, trimmed. "all" stays a value: commander
 * keeps an option whose parser returns undefined as the raw string, which the worker would refuse.
 */
function stageList(v: string): string[] | 'all' {
  const names = v.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new InvalidArgumentError('--stage takes "all" or stage names separated by commas, e.g. autoencoder,classifier.');
  return names.length === 1 && names[0] === 'all' ? 'all' : names;
}

/** What `train` sends: a graph file to train, or (with --resume) the run folder's own snapshot. */
function trainTarget(file: string | undefined, o: TrainOptions): { graphText: string; graphPath: string; runsDir: string; resumeFrom?: string } {
  if (o.resume === undefined) {
    if (file === undefined) throw new CliError('train needs a graph file (or --resume <runDir> to continue a run).');
    const graph = readGraph(file);
    const analysis = analyzeGraph(graph.value);
    if (!analysis.ok) {
      throw new CliError(graphProblemsSentence(file, analysis.problems, { before: 'training', more: `latent-studio validate ${file} lists them all` }));
    }
    const runsDir = path.resolve(o.out ?? path.join(process.cwd(), '.latent', 'runs'));
    const notFolder = notAFolder(runsDir);
    if (notFolder) throw new CliError(`--out: ${notFolder}: choose a folder for run folders`);
    return { graphText: graph.text, graphPath: graph.absolute, runsDir };
  }
  if (o.out !== undefined) throw new CliError('--out does not go with --resume: a resumed run keeps writing to its own folder.');
  const runDir = path.resolve(o.resume);
  const snapshotFile = path.join(runDir, RUN_FILES.graph);
  const read = readGraphSnapshot(runDir);
  if (!read.ok) throw new CliError(`${o.resume}: not a run folder: ${read.error}`);
  const snapshot = read.value;
  // The worker trains the run's snapshot whatever is passed; a changed graph file is worth a word.
  if (file !== undefined && readGraph(file).text !== snapshot) {
    err(`note: ${file} has changed since the run started; resuming trains the run's own snapshot (${snapshotFile}).`);
  }
  return { graphText: snapshot, graphPath: file !== undefined ? path.resolve(file) : snapshotFile, runsDir: path.dirname(runDir), resumeFrom: runDir };
}

async function trainCommand(file: string | undefined, o: TrainOptions): Promise<void> {
  const target = trainTarget(file, o);
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

  if (o.engine === 'pytorch') {
    if (o.backend !== 'auto') throw new CliError(`--backend ${o.backend} chooses a tfjs backend; the PyTorch engine takes --device (cuda, mps, cpu)`);
  } else if (o.python !== undefined || o.device !== undefined || o.processes !== undefined) {
    throw new CliError('--python, --device and --processes go with --engine pytorch');
  }
  const session =
    o.engine === 'pytorch'
      ? new PytorchSession(
          { ...target, epochs: o.epochs, batchSize: o.batchSize, data: o.data, labelColumn: o.labelColumn, limitSamples: o.limit, device: o.device, processes: o.processes, stages: o.stage === 'all' ? undefined : o.stage, initFrom: o.initFrom !== undefined ? path.resolve(o.initFrom) : undefined, cacheDir: defaultCacheDir(), python: { option: o.python } },
          { onMessage, describeModels: (r) => tfjsTopologies(r) },
        )
      : new TrainingSession(
          {
            ...target,
            epochs: o.epochs,
            batchSize: o.batchSize,
            backend: o.backend,
            data: o.data,
            labelColumn: o.labelColumn,
            limitSamples: o.limit,
            stages: o.stage === 'all' ? undefined : o.stage,
            initFrom: o.initFrom !== undefined ? path.resolve(o.initFrom) : undefined,
          },
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
    else if (o.epochs === 0 && !done.stopped) err(`Done: the starting weights, untrained, are the run's checkpoint (evaluate, export or score it). Run folder: ${done.runDir}`);
    else err(`${done.stopped ? 'Stopped' : 'Done'}: ${done.epochsCompleted} epoch(s), best val_loss ${fmt(done.bestValLoss)}. Run folder: ${done.runDir}`);
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
}

interface EvaluateOptions {
  run: string;
  split: 'test' | 'validation';
  data?: string;
  limit?: number;
  backend: BackendPreference;
  json?: boolean;
  verbose?: boolean;
}

/** The evaluation as text: loss, metrics, and for classifiers accuracy and the confusion matrix. */
export function formatEvaluation(e: Evaluation): string {
  const lines = [
    `${e.runDir}`,
    `  model of stage "${e.stage}" (Output "${e.outputId}"), ${e.split} split of ${e.dataset}: ${e.samples} samples, backend ${e.backend}`,
    `  loss (${e.lossName}): ${e.loss.toFixed(6)}`,
  ];
  for (const [k, v] of Object.entries(e.metrics)) lines.push(`  ${k}: ${v.toFixed(6)}${k === 'accuracy' ? ` (${(v * 100).toFixed(2)}%)` : ''}`);
  const c = e.classifier;
  if (c) {
    const width = Math.max(4, ...c.classNames.map((n) => Math.min(n.length, 12)), ...c.confusion.flat().map((n) => String(n).length)) + 1;
    const cell = (text: string): string => text.slice(0, width - 1).padStart(width);
    lines.push('  confusion matrix (rows: true class, columns: predicted):');
    lines.push(`  ${cell('')}${c.classNames.map(cell).join('')}`);
    c.confusion.forEach((row, i) => lines.push(`  ${cell(c.classNames[i] ?? String(i))}${row.map((n) => cell(String(n))).join('')}`));
  }
  return lines.join('\n');
}

/** --json: the evaluation without its pictures (they are in evaluation.json), plus where that file is. */
function evaluationJson(e: Evaluation): Record<string, unknown> {
  const { reconstructionsPngBase64: _recon, classifier, ...rest } = e;
  const lean: Record<string, unknown> = { ...rest, file: path.join(e.runDir, RUN_FILES.evaluation) };
  if (classifier) {
    const { stripPngBase64: _strip, ...c } = classifier;
    lean.classifier = c;
  }
  return lean;
}

async function evaluateCommand(o: EvaluateOptions): Promise<void> {
  const evaluation = await evaluateRun({ runDir: path.resolve(o.run), split: o.split, data: o.data, limit: o.limit, backend: o.backend }, { onMessage: printLogs(o) });
  out(o.json ? JSON.stringify(evaluationJson(evaluation)) : formatEvaluation(evaluation));
}

interface ExportOptions {
  run?: string;
  out: string;
  format: 'tfjs' | 'pytorch' | 'onnx';
  overwrite?: boolean;
  json?: boolean;
}

/** The export clash, as the command line says it: name the flag that replaces the files. */
function withOverwriteHint(e: unknown): unknown {
  if (!(e instanceof UserError || e instanceof TrainingFailure) || !/already exists?\b.*choose another folder or overwrite( it)?$/.test(e.message)) return e;
  return new CliError(e.message.replace(/or overwrite( it)?$/, 'or add --overwrite to replace it'), e instanceof TrainingFailure ? e.detail : undefined);
}

async function exportCommand(graph: string | undefined, o: ExportOptions): Promise<void> {
  try {
    await exportTo(graph, o);
  } catch (e) {
    throw withOverwriteHint(e);
  }
}

async function exportTo(graph: string | undefined, o: ExportOptions): Promise<void> {
  if (o.format === 'pytorch') {
    const done = await exportPytorch({ graphFile: graph === undefined ? undefined : path.resolve(graph), runDir: o.run === undefined ? undefined : path.resolve(o.run), outDir: o.out, overwrite: o.overwrite === true, describeModels: (r) => tfjsTopologies(r) });
    for (const w of done.warnings) process.stderr.write(`warning: ${w}\n`);
    if (o.json) out(JSON.stringify(done));
    else {
      out(`PyTorch code for ${done.models.join(', ')}${o.run ? ` with the trained weights of ${done.weights} layers` : ''}:`);
      for (const f of done.files) out(`  ${f}`);
    }
    return;
  }
  if (graph !== undefined) throw new CliError(`export --format ${o.format} writes a run's trained models: give --run <runDir> instead of a graph file (or --format pytorch for code)`);
  if (o.run === undefined) throw new CliError(`export --format ${o.format} needs --run <runDir>: the run whose trained models to write`);
  if (o.format === 'onnx') {
    const models = await exportOnnx({ runDir: path.resolve(o.run), outDir: path.resolve(o.out), overwrite: o.overwrite === true });
    if (o.json) out(JSON.stringify({ models }));
    else {
      const shape = (s: readonly (number | null)[]): string => `(${s.map((d) => (d === null ? 'N' : String(d))).join(', ')})`;
      for (const m of models) out(`${m.name.padEnd(12)} ${m.inputName}${shape(m.inputShape)} -> ${m.outputName}${shape(m.outputShape)}  ${m.params.toLocaleString('en-US')} params  ${m.file}`);
    }
    return;
  }
  const models = await exportRun({ runDir: path.resolve(o.run), outDir: path.resolve(o.out), overwrite: o.overwrite === true });
  if (o.json) out(JSON.stringify({ models }));
  else {
    const shape = (s: readonly (number | null)[]): string => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
    for (const m of models) out(`${m.name.padEnd(12)} ${shape(m.inputShape)} -> ${shape(m.outputShape)}  ${m.params.toLocaleString('en-US')} params  ${m.dir}`);
  }
}

interface GenerateOptions {
  run: string;
  out?: string;
  count?: number;
  seed?: number;
  json?: boolean;
}

/** `--out x.png`: the grid there, and a 2-D code's manifold beside it as x-manifold.png. */
function manifoldPathFor(out: string): string {
  const ext = path.extname(out);
  return `${out.slice(0, out.length - ext.length)}-manifold${ext || '.png'}`;
}

async function generateCommand(o: GenerateOptions): Promise<void> {
  const g = await generateRun({ runDir: path.resolve(o.run), count: o.count, seed: o.seed });
  let file = g.file;
  let manifoldFile = g.manifoldFile;
  if (o.out !== undefined) {
    file = path.resolve(o.out);
    const notFolder = notAFolder(path.dirname(file));
    if (notFolder) throw new CliError(`--out: ${notFolder}: choose a PNG file in a folder`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(g.file, file);
    if (g.manifoldFile) fs.copyFileSync(g.manifoldFile, (manifoldFile = manifoldPathFor(file)));
  }
  if (o.json) out(JSON.stringify({ runDir: g.runDir, latentSize: g.latentSize, count: g.count, seed: g.seed, file, ...(manifoldFile ? { manifoldFile } : {}) }));
  else {
    out(`${g.count} images decoded from random ${g.latentSize}-number codes (seed ${g.seed}): ${file}`);
    if (manifoldFile) out(`the 2-D code's manifold: ${manifoldFile}`);
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('latent-studio')
    .description('Build, check and train Latent Studio autoencoder graphs (*.latent.json) from the command line.')
    .version(LATENT_STUDIO_VERSION, '-V, --version', 'print the version')
    .option('--verbose', 'print stack traces with errors')
    .exitOverride();

  program
    .command('summary')
    .description('Print a Keras-style summary: layers, output shapes, parameter counts; of the whole graph, or of one model it names.')
    .argument('<graph>', 'a *.latent.json file')
    .option('--model <name>', 'one of the models the graph names (autoencoder, encoder, decoder, classifier, …)')
    .option('--stage <name>', "count trainable parameters as this stage trains them (its frozen blocks are non-trainable)")
    .option('--json', 'print {layers, totalParams, trainableParams, nonTrainableParams, models: [every named model, alike]} as JSON; with --model, that model')
    .action((file: string, o: { json?: boolean; model?: string; stage?: string }) => {
      const graph = readGraph(file);
      const analysis = analyzeGraph(graph.value);
      if (!analysis.ok) throw new CliError(graphProblemsSentence(file, analysis.problems, { more: `latent-studio validate ${file} lists them all` }));
      const asJson = (m: ModelSummary) => ({
        name: m.name,
        ...(m.stage ? { stage: m.stage } : {}),
        layers: m.layers.map(({ name, type, outputShape, params, trainable }) => ({ name, type, outputShape, params, trainable })),
        totalParams: m.totalParams,
        trainableParams: m.trainableParams,
        nonTrainableParams: m.nonTrainableParams,
      });
      try {
        if (o.model !== undefined) {
          const summary = summarizeModel(analysis, o.model, o.stage);
          out(o.json ? JSON.stringify(asJson(summary)) : formatSummaryTable(summary));
          return;
        }
        const models = summarizeModels(analysis, o.stage);
        const summary = summarize(analysis);
        if (o.json) {
          const { name: _name, ...whole } = asJson(summary);
          out(JSON.stringify({ ...whole, models: models.map(asJson) }));
        } else out([formatSummaryTable(summary), '', `Models: ${models.map((m) => `${m.name} (${m.totalParams.toLocaleString('en-US')} params, ${m.trainableParams.toLocaleString('en-US')} trainable${m.stage ? ` in stage "${m.stage}"` : ''})`).join(', ')}; --model <name> prints one.`].join('\n'));
      } catch (e) {
        if (e instanceof SummaryError) throw new CliError(`${file}: ${e.message}`);
        throw e;
      }
    });

  program
    .command('validate')
    .description('Check a graph: prints every problem, exits 1 when there is an error.')
    .argument('<graph>', 'a *.latent.json file')
    .option('--json', 'print {ok, problems: [{severity, message, nodeId, path}]} as JSON')
    .action((file: string, o: { json?: boolean }) => {
      let graph;
      try {
        graph = readGraph(file);
      } catch (e) {
        // A script reading --json gets {ok: false, problems} for a missing or broken file too.
        if (o.json && e instanceof GraphReadError) {
          out(JSON.stringify({ ok: false, problems: [e.problem] }));
          err(`latent-studio: ${e.message}`);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
      const analysis = analyzeGraph(graph.value);
      const problems = [...analysis.problems, ...datasetFileProblems(graph.value, path.dirname(graph.absolute))];
      if (o.json) out(JSON.stringify({ ok: analysis.ok, problems }));
      else if (problems.length === 0) out(`${file}: no problems (${analysis.totals.params.toLocaleString('en-US')} parameters)`);
      else for (const p of problems) out(`${file}: ${formatProblem(p)}`);
      if (!analysis.ok) process.exitCode = 1;
    });

  program
    .command('train')
    .description('Train a graph in a worker process and write a run folder (.latent/runs/<time>-<name>/), or continue one with --resume.')
    .argument('[graph]', 'a *.latent.json file (optional with --resume: the run folder holds its own snapshot)')
    .option('--resume <runDir>', 'continue a stopped or failed run from its checkpoint (the last completed epoch)')
    .option('--epochs <n>', "epochs per stage (overrides the file); 0 scores the starting weights (training.initFrom, --init-from) and keeps them as the run's checkpoint, untrained, for evaluate, export, score", nonNegativeInt('--epochs'))
    .option('--batch-size <n>', 'batch size (overrides the file)', positiveInt('--batch-size'))
    .addOption(backendOption())
    .addOption(dataOption(`dataset: ${DATA_SPEC_HELP}`))
    .option('--label-column <name>', "a CSV table's label column (overrides training.labelColumn)")
    .option('--out <dir>', 'folder for run folders (default ./.latent/runs)')
    .option('--limit <n>', 'train on at most n samples (quick checks)', positiveInt('--limit'))
    .option('--stage <names>', 'train only these stages (comma-separated names; default: all); the others are skipped', stageList)
    .option('--init-from <runDir>', "start from another run's checkpoint: the layers whose names and shapes match (e.g. --stage classifier --init-from <autoencoder run>)")
    .addOption(new Option('--engine <engine>', 'tfjs (in-process) or pytorch (generated code run by your Python: CUDA, MPS or CPU)').choices([...ENGINES]).default('tfjs'))
    .option('--python <path>', 'the Python with torch for --engine pytorch (default: LATENT_STUDIO_PYTHON, then python3 / python on the PATH)')
    .option('--device <device>', '--engine pytorch: cuda, cuda:1, mps or cpu (default: the best there is)')
    .option('--processes <n>', '--engine pytorch: processes on this machine (torchrun --nproc_per_node; batch size and learning rate are per process)', positiveInt('--processes'))
    .option('--json', 'one JSON object per epoch on stdout, then {runDir, backend}')
    .action((file: string | undefined, o: TrainOptions, cmd: Command) => trainCommand(file, { ...o, verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose }));

  program
    .command('evaluate')
    .description("Score a run's checkpointed model (its last fit stage) on the test or validation split; writes evaluation.json into the run folder.")
    .requiredOption('--run <dir>', 'a run folder (.latent/runs/<time>-<name>)')
    .addOption(new Option('--split <name>', 'which split of the dataset').choices(['test', 'validation']).default('test'))
    .addOption(dataOption())
    .option('--limit <n>', 'score at most n samples', positiveInt('--limit'))
    .addOption(backendOption())
    .option('--json', 'print the evaluation as one JSON object (pictures stay in evaluation.json)')
    .action((o: EvaluateOptions, cmd: Command) => evaluateCommand({ ...o, verbose: cmd.optsWithGlobals<{ verbose?: boolean }>().verbose }));

  program
    .command('import')
    .description('Turn a model into a graph file, each layer a block, with its weights as the starting point: <graph>.weights/ beside it, which the graph names as its training.initFrom. Reads TensorFlow.js layers models (model.json and its weight files), Keras 3 .keras and Keras 2 .h5 files.')
    .argument('<model>', 'a TensorFlow.js model.json, a .keras or an .h5 file')
    .requiredOption('--out <graph>', 'the graph file to write (*.latent.json)')
    .option('--name <name>', "the graph's name (default: the model's)")
    .option('--partial', 'keep the layers before the first one the catalog lacks, and report the rest')
    .option('--overwrite', 'replace the graph file and its weights folder if they exist')
    .option('--no-group', 'keep one block per layer (by default a recognisable autoencoder becomes Encoder, Bottleneck and Decoder blocks)')
    .option('--json', 'print {graphFile, weightsDir, blocks, params, skipped, grouped}')
    .action(async (model: string, o: { out: string; name?: string; partial?: boolean; overwrite?: boolean; group: boolean; json?: boolean }) => {
      const done = await importModel({ model, out: o.out, name: o.name, partial: o.partial === true, overwrite: o.overwrite === true, group: o.group });
      for (const s of done.skipped) process.stderr.write(`left out: ${s}\n`);
      if (o.json) return out(JSON.stringify(done));
      out(`${done.graphFile}: ${done.blocks} blocks${done.grouped ? ' (an autoencoder: Encoder, Bottleneck, Decoder)' : ''}, ${done.params.toLocaleString('en-US')} params`);
      const graph = path.relative(process.cwd(), done.graphFile);
      out(`${done.weightsDir}: the model's weights, the graph's starting point (training.initFrom): train from them, or keep them as they are in a run to evaluate, export or score:`);
      out(`  latent-studio train ${graph}`);
      out(`  latent-studio train ${graph} --epochs 0`);
    });

  program
    .command('export')
    .description("Write a run's models (checkpoint weights) to <out>/<model name>/ in the TensorFlow.js layers format, or as <out>/<model name>.onnx (--format onnx), or a graph as PyTorch code (--format pytorch: model.py; with --run also its trained weights).")
    .argument('[graph]', 'a *.latent.json file (--format pytorch without --run)')
    .option('--run <dir>', 'a run folder (.latent/runs/<time>-<name>): its trained weights')
    .requiredOption('--out <dir>', 'folder that receives the export')
    .addOption(new Option('--format <format>', 'tfjs: the trained models; onnx: one .onnx per trained model (opset 17); pytorch: runnable PyTorch code').choices(['tfjs', 'onnx', 'pytorch']).default('tfjs'))
    .option('--overwrite', 'replace files or model folders that already exist')
    .option('--json', 'print what was written as JSON ({models: [...]} for tfjs, {outDir, files, models, weights} for pytorch)')
    .action((graph: string | undefined, o: ExportOptions) => exportCommand(graph, o));

  program
    .command('generate')
    .description("Decode random codes with a variational autoencoder run's decoder: generated.png (and manifold.png for a 2-D code) in the run folder.")
    .requiredOption('--run <dir>', 'a run folder of a graph with a variational Bottleneck')
    .option('--out <png>', 'also copy the grid here (a 2-D code\'s manifold goes beside it as <name>-manifold.png)')
    .option('--count <n>', 'how many random codes to decode (default 100, at most 400)', (v: string) => {
      const n = positiveInt('--count')(v);
      if (n > 400) throw new InvalidArgumentError('--count must be at most 400.');
      return n;
    })
    .option('--seed <n>', "seed of the random codes (default: the graph's seed)", (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--seed must be a whole number of at least 0.');
      return n;
    })
    .option('--json', 'print {runDir, latentSize, count, seed, file, manifoldFile?}')
    .action((o: GenerateOptions) => generateCommand(o));

  registerInspectCommands(program);
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
    if (e instanceof TrainingAborted) {
      // A second Ctrl-C: the run is kept as stopped; say how to go on. 130 is the shell's code for an interrupt.
      err(`latent-studio: ${e.message}${e.runDir ? ` (latent-studio train --resume ${e.runDir})` : ''}`);
      if (verbose && e.detail) err(e.detail);
      return 130;
    }
    if (e instanceof CliError || e instanceof TrainingFailure) {
      // Input the user can fix, or a job that failed with a sentence: the sentence, and its detail with --verbose.
      err(`latent-studio: ${e.message}`);
      if (verbose && e.detail) err(e.detail);
    } else if (e instanceof UserError) {
      err(`latent-studio: ${e.message}`);
    } else {
      err(`latent-studio: ${e instanceof Error ? e.message : String(e)}`);
      if (verbose && e instanceof Error && e.stack) err(e.stack);
    }
    return 1;
  }
}
