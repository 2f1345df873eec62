/**
 * Smoke test in a real VS Code (code-server + headless chromium): the extension activates, its command
 * writes the model summary to the Output panel, and graph problems reach the Problems panel.
 * Needs `bash scripts/setup-e2e.sh` once; run with `node --import tsx --test test/e2e/smoke.e2e.ts`.
 * Screenshots, console.log, server.log and VS Code's logs land in .test-output/e2e/smoke/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeGraph } from '../../src/core/analyze';
import { parseJsonText } from '../../src/core/canonical';
import { startVSCode, type VSCodeSession } from './harness';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, '.test-output', 'e2e', 'smoke');
const BROKEN = 'broken-dense.latent.json';

/** The engine's own sentence for `text`'s first problem, so the test follows wording changes in src/core. */
function firstProblem(text: string): string {
  const parsed = parseJsonText(text);
  assert.ok(parsed.ok, 'the broken sample must still be valid JSON');
  const problem = analyzeGraph(parsed.value).problems[0];
  assert.ok(problem, 'the broken sample must have a graph problem');
  return problem.message;
}

describe('VS Code smoke (code-server)', { timeout: 90_000 }, () => {
  let vscode: VSCodeSession | undefined;
  let workspace = '';
  let expectedProblem = '';

  /** Runs a step; on failure saves a screenshot named after it before rethrowing. */
  async function step(name: string, body: (s: VSCodeSession) => Promise<void>): Promise<void> {
    assert.ok(vscode, 'VS Code did not start');
    try {
      await body(vscode);
    } catch (e) {
      await vscode.screenshot(`FAILED-${name}`).catch(() => undefined);
      throw e;
    }
  }

  before(async () => {
    if (!existsSync(path.join(ROOT, 'dist', 'extension.js'))) {
      // Only the extension bundle is needed here; the full build is `npm run build`.
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'development', '--config-name', 'extension'], {
        cwd: ROOT,
        stdio: 'inherit',
      });
    }
    await rm(OUT, { recursive: true, force: true });

    // A scratch copy: VS Code may write to the workspace and the tests add a broken graph.
    workspace = await mkdtemp(path.join(tmpdir(), 'latent-e2e-ws-'));
    await cp(path.join(ROOT, 'samples'), workspace, { recursive: true });
    const dense = await readFile(path.join(workspace, 'dense-autoencoder.latent.json'), 'utf8');
    const broken = dense.replace('"type": "Bottleneck"', '"type": "Dens"');
    assert.notEqual(broken, dense, 'the dense sample changed shape: update the replacement above');
    await writeFile(path.join(workspace, BROKEN), broken);
    expectedProblem = firstProblem(broken);

    vscode = await startVSCode({
      workspace,
      extensionPath: ROOT,
      outDir: OUT,
      // These tests exercise the text features; keep *.latent.json on the text editor whatever the
      // extension's custom editor (a webview) declares. Graph-editor tests start without this.
      settings: { 'workbench.editorAssociations': { '*.latent.json': 'default' } },
    });
    await vscode.screenshot('0-started');
  });

  after(async () => {
    await vscode?.close();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('shows the model summary of the dense autoencoder in the Output panel', async () => {
    await step('summary', async (s) => {
      assert.equal(await s.openFile('dense-autoencoder.latent.json', { as: 'text' }), 'text');
      await s.screenshot('1-dense-opened');
      await s.runCommand('Latent Studio: Show Model Summary');
      const output = await s.outputText({ channel: 'Latent Studio', waitFor: 'Total params: 221,888' });
      assert.match(output, /Model: "Dense autoencoder"/);
      assert.match(output, /bottleneck \(Dense\)\s+\(None, 16\)\s+528/);
      assert.match(output, /Total params: 221,888/);
      await s.screenshot('2-summary-output');
    });
  });

  it('reports the engine\'s graph error and the schema warning in the Problems panel', async () => {
    await step('problems', async (s) => {
      assert.match(expectedProblem, /Unknown block type "Dens"/);
      await s.openFile(BROKEN, { as: 'text' });
      await s.screenshot('3-broken-opened');
      const problems = await s.problemsText({ waitFor: expectedProblem });
      assert.ok(problems.includes(BROKEN), `the problem is filed under ${BROKEN}:\n${problems}`);
      assert.ok(problems.includes('Latent Studio'), `the problem names its source:\n${problems}`);
      // contributes.jsonValidation: VS Code's JSON service checks the same file against media/latent-graph.schema.json.
      await s.problemsText({ waitFor: 'Value is not accepted' });
      await s.screenshot('4-problems');
    });
  });

  it('raised no error notifications along the way', async () => {
    await step('notifications', async (s) => {
      // An activation failure or a throwing command surfaces as a toast, not as a failed assertion above.
      const errors = (await s.notifications()).filter((n) => /error|failed|cannot|could not/i.test(n));
      assert.deepEqual(errors, [], 'error notifications during the run');
    });
  });
});
