/**
 * The bad-file corpus (test/fixtures/bad-files): malformed graphs, dataset files and run folders,
 * each run through the command a user would run on it (`validate`, `train`, `train --resume`,
 * `evaluate`). Each must get its sentence (the one corpus.json holds, or for run folders the one
 * below), in one line on stderr, with exit 1, and leave nothing behind: no run folder from a
 * refused train, no change to a run folder that is refused. Generated files are the corpus; this
 * file only runs them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, SAMPLES_DIR } from '../helpers/samples';

const CLI = path.join(ROOT, 'dist', 'cli.js');
const CORPUS = path.join(ROOT, 'test', 'fixtures', 'bad-files');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-corpus-'));

interface Corpus {
  readonly graphs: Readonly<Record<string, { readonly severity: 'error' | 'warning'; readonly sentence: string }>>;
  readonly data: readonly { readonly graph: 'simple' | 'table'; readonly data: string; readonly sentence: string }[];
}
const corpus = JSON.parse(fs.readFileSync(path.join(CORPUS, 'corpus.json'), 'utf8')) as Corpus;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], cwd: string): Ran {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first');
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliAsync(args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The sentence as corpus.json writes it: paths relative to the corpus folder, without the program's name. */
const relative = (line: string): string => line.replace(/^latent-studio: /, '').split(`${CORPUS}${path.sep}`).join('');

/** stderr's lines besides progress ("Loading …"): a refusal is one line. */
const sentenceLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => l && !/^(Loading|Reading|Decoding) /.test(l));

test('every file in the corpus has its sentence in corpus.json, and every sentence its file', () => {
  assert.deepEqual(fs.readdirSync(path.join(CORPUS, 'graphs')).sort(), Object.keys(corpus.graphs).sort());
  const used = new Set(corpus.data.flatMap((d) => d.data.replace(/^\w+:/, '').split(',')));
  assert.deepEqual(fs.readdirSync(path.join(CORPUS, 'data')).filter((f) => !used.has(f)), [], 'data files no case uses');
  for (const f of used) assert.ok(fs.existsSync(path.join(CORPUS, 'data', f)), `${f} is in corpus.json but not in data/`);
});

test('bad graphs: validate names each problem at its place; train refuses each with errors in one line, before any run folder exists', () => {
  const runs = path.join(tmp, 'graph-runs');
  for (const [file, want] of Object.entries(corpus.graphs)) {
    const where = `graphs/${file}`;
    const v = cli(['validate', where, '--json'], CORPUS);
    const report = JSON.parse(v.stdout) as { ok: boolean; problems: { severity: string; message: string }[] };
    const first = report.problems.find((p) => p.severity === 'error') ?? report.problems[0];
    assert.ok(first, `${file}: validate reported nothing`);
    assert.deepEqual([first.severity, relative(first.message)], [want.severity, want.sentence], file);
    assert.equal(v.code, want.severity === 'error' ? 1 : 0, `${file}: exit code`);
    if (want.severity !== 'error') continue;
    const t = cli(['train', where, '--out', runs], CORPUS);
    assert.equal(t.code, 1, `${file}: train exit code\n${t.stderr}`);
    const lines = sentenceLines(t.stderr);
    assert.equal(lines.length, 1, `${file}: train printed\n${t.stderr}`);
    // train says the same cause (a JSON error with its place as file:line:column).
    const cause = want.sentence.replace(/^invalid JSON at line \d+, column \d+: /, '');
    assert.ok(relative(lines[0]!).includes(cause), `${file}: train said "${lines[0]}", not "${cause}"`);
    assert.ok(!fs.existsSync(runs), `${file}: a run folder was made`);
  }
});

test('bad dataset files: train stops at each with the sentence naming the file (and row, column, image), and makes no run folder', async () => {
  const graphs = { simple: path.join(SAMPLES_DIR, 'simple-autoencoder.latent.json'), table: path.join(CORPUS, 'table.latent.json') };
  const runs = path.join(tmp, 'data-runs');
  const results: { data: string; ran: Ran; want: string }[] = [];
  // Two at a time: each is a worker start and a file read.
  for (let i = 0; i < corpus.data.length; i += 2) {
    const batch = corpus.data.slice(i, i + 2);
    results.push(...(await Promise.all(batch.map(async (d) => ({ data: d.data, want: d.sentence, ran: await cliAsync(['train', graphs[d.graph], '--data', d.data, '--epochs', '1', '--limit', '20', '--out', runs], path.join(CORPUS, 'data')) })))));
  }
  for (const { data, ran, want } of results) {
    assert.equal(ran.code, 1, `${data}: exit code\n${ran.stderr}`);
    const lines = sentenceLines(ran.stderr);
    assert.ok(lines.length >= 1, `${data}: nothing said`);
    // The worker may say where it is (backend, data) before the failure; the failure is the last line, and one line.
    assert.equal(relative(lines.at(-1)!), want, data);
    assert.doesNotMatch(ran.stderr, /\n\s+at /, `${data}: a stack trace`);
  }
  assert.deepEqual(fs.existsSync(runs) ? fs.readdirSync(runs) : [], [], 'no run folder from a refused dataset');
});

/** Every file of a folder with its bytes, to see that a refused command changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) files.set(path.relative(dir, path.join(d.parentPath, d.name)), fs.readFileSync(path.join(d.parentPath, d.name)).toString('base64'));
  }
  return files;
}

test('broken run folders (checkpoint, weights, run.json, config, graph snapshot): resume and evaluate each say which file and why, and change nothing', () => {
  const runs = path.join(tmp, 'model-runs');
  const trained = cli(['train', path.join(SAMPLES_DIR, 'simple-autoencoder.latent.json'), '--epochs', '1', '--limit', '200', '--out', runs, '--json'], tmp);
  assert.equal(trained.code, 0, trained.stderr);
  const runDir = (JSON.parse(trained.stdout.trim().split('\n').at(-1)!) as { runDir: string }).runDir;
  const weights = (dir: string): string => path.join(dir, 'checkpoint', fs.readdirSync(path.join(dir, 'checkpoint')).find((f) => f.endsWith('.bin'))!);
  const editJson = (file: string, edit: (v: Record<string, unknown>) => void): void => {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(v);
    fs.writeFileSync(file, JSON.stringify(v));
  };
  const recipes: { name: string; breakIt: (dir: string) => void; sentence: RegExp }[] = [
    { name: 'checkpoint.json not JSON', breakIt: (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'checkpoint.json'), '{'), sentence: /checkpoint[/\\]checkpoint\.json: not valid JSON \(line 1, column 2: close brace expected\); the checkpoint cannot be used$/ },
    { name: 'weights file missing', breakIt: (d) => fs.rmSync(weights(d)), sentence: /checkpoint[/\\]weights-1-[0-9a-f]+\.bin: missing: checkpoint\.json names it but it is not there; the checkpoint is incomplete$/ },
    { name: 'weights file truncated', breakIt: (d) => fs.truncateSync(weights(d), 1000), sentence: /weights-1-[0-9a-f]+\.bin: the checkpoint is corrupt: truncated \(1000 bytes, checkpoint\.json says \d+\)$/ },
    {
      name: 'weights bytes changed',
      breakIt: (d) => {
        const fd = fs.openSync(weights(d), 'r+');
        fs.writeSync(fd, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 100);
        fs.closeSync(fd);
      },
      sentence: /weights-1-[0-9a-f]+\.bin: the checkpoint is corrupt: its SHA-256 does not match checkpoint\.json$/,
    },
    { name: 'a weight shape edited', breakIt: (d) => editJson(path.join(d, 'checkpoint', 'checkpoint.json'), (v) => ((v.weights as { shape: number[] }[])[0]!.shape = [3, 3])), sentence: /checkpoint\.json: the checkpoint is corrupt: its weight specs describe \d+ bytes but the weights file has \d+$/ },
    { name: 'run.json garbage', breakIt: (d) => fs.writeFileSync(path.join(d, 'run.json'), 'garbage\n'), sentence: /run\.json: not valid JSON \(line 1, column 1: .*\); this is not a usable run folder$/ },
    { name: 'config.json deleted', breakIt: (d) => fs.rmSync(path.join(d, 'config.json')), sentence: /config\.json: not found; the run folder cannot be used$/ },
    { name: 'graph snapshot deleted', breakIt: (d) => fs.rmSync(path.join(d, 'graph.latent.json')), sentence: /graph\.latent\.json: not found \(the run's graph snapshot\)$/ },
    { name: 'graph snapshot edited', breakIt: (d) => fs.writeFileSync(path.join(d, 'graph.latent.json'), fs.readFileSync(path.join(d, 'graph.latent.json'), 'utf8').replace('"latentSize": 32', '"latentSize": 31')), sentence: /checkpoint\.json: graph hash mismatch: the checkpoint was saved for graph sha256 [0-9a-f]+… but the run's graph snapshot has sha256 [0-9a-f]+…; the run folder was edited$/ },
  ];
  for (const r of recipes) {
    const dir = path.join(runs, r.name.replace(/\W+/g, '-'));
    fs.cpSync(runDir, dir, { recursive: true });
    // Stopped after its epoch, so resuming it is what a user would try.
    if (r.name !== 'run.json garbage') editJson(path.join(dir, 'run.json'), (v) => (v.status = 'stopped'));
    r.breakIt(dir);
    const before = snapshot(dir);
    for (const args of [['train', '--resume', dir], ['evaluate', '--run', dir, '--limit', '50']]) {
      const ran = cli(args, tmp);
      assert.equal(ran.code, 1, `${r.name}: ${args[0]}: ${ran.stderr}`);
      const lines = sentenceLines(ran.stderr);
      assert.equal(lines.length, 1, `${r.name}: ${args[0]} printed\n${ran.stderr}`);
      assert.match(lines[0]!, r.sentence, `${r.name}: ${args[0]}`);
      assert.ok(lines[0]!.includes(dir), `${r.name}: the sentence names the run folder's file`);
    }
    assert.deepEqual(snapshot(dir), before, `${r.name}: the refused commands changed the run folder`);
  }
});
