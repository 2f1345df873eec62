/**
 * Extension-host tests for @vscode/test-electron (activation, commands, editor registration,
 * diagnostics). They need a downloaded VS Code, so they run with `npm run test:vscode` on machines
 * that can reach the VS Code download servers; the code-server suites in test/e2e cover the same
 * ground (and the UI) everywhere else.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'latent-studio.latent-studio';

async function waitFor<T>(read: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function check(name: string, body: () => Promise<void>): Promise<boolean> {
  try {
    await body();
    console.log(`ok - ${name}`);
    return true;
  } catch (e) {
    console.error(`not ok - ${name}\n  ${e instanceof Error ? e.stack : String(e)}`);
    return false;
  }
}

export async function run(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  assert.ok(folder, 'the runner opens the samples folder');
  const results = [
    await check('the extension activates', async () => {
      const ext = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(ext, 'installed under development');
      await ext.activate();
      assert.equal(ext.isActive, true);
    }),
    await check('every command is registered', async () => {
      const all = await vscode.commands.getCommands(true);
      for (const c of ['latentStudio.newFromTemplate', 'latentStudio.openAsText', 'latentStudio.openGraphEditor', 'latentStudio.showModelSummary']) {
        assert.ok(all.includes(c), c);
      }
    }),
    await check('*.latent.json opens in the graph editor by default', async () => {
      const uri = vscode.Uri.joinPath(folder, 'dense-autoencoder.latent.json');
      await vscode.commands.executeCommand('vscode.open', uri);
      const input = await waitFor(() => {
        const i = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
        return i instanceof vscode.TabInputCustom ? i : undefined;
      }, 'a custom editor tab');
      assert.equal(input.viewType, 'latentStudio.graphEditor');
    }),
    await check('graph problems reach the Problems panel with the engine sentence', async () => {
      const broken = vscode.Uri.joinPath(folder, 'broken.latent.json');
      await vscode.workspace.fs.writeFile(broken, new TextEncoder().encode('{"formatVersion": 1, "name": "x", "nodes": [{"id": "a", "type": "Dens"}], "edges": []}'));
      await vscode.workspace.openTextDocument(broken);
      const messages = await waitFor(() => {
        const d = vscode.languages.getDiagnostics(broken).filter((x) => x.source === 'Latent Studio');
        return d.length ? d.map((x) => x.message) : undefined;
      }, 'diagnostics');
      assert.ok(messages.some((m) => m.includes('Unknown block type "Dens": did you mean "Dense"?')), messages.join('\n'));
      await vscode.workspace.fs.delete(broken);
    }),
  ];
  const failed = results.filter((r) => !r).length;
  if (failed > 0) throw new Error(`${failed} of ${results.length} extension-host checks failed`);
}
