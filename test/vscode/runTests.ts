/**
 * `npm run test:vscode`: downloads VS Code with @vscode/test-electron and runs test/vscode/suite.ts
 * in its extension host, on a temporary copy of samples/. Needs network access to the VS Code
 * download servers (not available on the project's CI machines, which run test/e2e in code-server).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-vscode-'));
  fs.cpSync(path.join(root, 'samples'), workspace, { recursive: true });
  try {
    await runTests({
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(root, 'dist', 'test', 'suite.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
