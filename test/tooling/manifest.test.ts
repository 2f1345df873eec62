/** package.json as VS Code reads it: what a workspace you do not trust may set and run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Manifest {
  capabilities?: {
    untrustedWorkspaces?: { supported: boolean | 'limited'; description?: string; restrictedConfigurations?: string[] };
    virtualWorkspaces?: { supported: boolean | 'limited'; description?: string } | boolean;
  };
  contributes: { configuration: { properties: Record<string, { scope?: string; type?: string }> } };
}

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as Manifest;
const settings = manifest.contributes.configuration.properties;
/** Settings that name code on this machine to load or run: never taken from a workspace. */
const MACHINE_PATHS = ['latentStudio.nodeModulesPath', 'latentStudio.pythonPath'];

test('paths to code are machine settings, restricted in untrusted workspaces', () => {
  for (const name of MACHINE_PATHS) {
    assert.ok(settings[name], `${name} is contributed`);
    assert.equal(settings[name]!.scope, 'machine', `${name}: a workspace's .vscode/settings.json cannot set it`);
  }
  const untrusted = manifest.capabilities?.untrustedWorkspaces;
  assert.equal(untrusted?.supported, 'limited');
  assert.deepEqual([...(untrusted?.restrictedConfigurations ?? [])].sort(), [...MACHINE_PATHS].sort());
  assert.match(untrusted?.description ?? '', /Restricted Mode.*trusted workspace/);
  // Every other setting that is a path or a program would need the same care: there is none.
  const others = Object.entries(settings).filter(([name, s]) => !MACHINE_PATHS.includes(name) && s.type === 'string' && /path|python|node|command|exec/i.test(name));
  assert.deepEqual(others.map(([n]) => n), []);
});

test('virtual workspaces are declined, with the reason', () => {
  const v = manifest.capabilities?.virtualWorkspaces;
  assert.ok(typeof v === 'object' && v.supported === false);
  assert.match(v.description ?? '', /files on disk/);
});

test('the editor title shows Train or Stop by state, and activation is not on every JSON file', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { activationEvents: string[]; contributes: { menus: Record<string, { command: string; when?: string }[]> } };
  const title = manifest.contributes.menus['editor/title']!;
  assert.match(title.find((m) => m.command === 'latentStudio.trainModel')!.when!, /resourcePath not in latentStudio\.trainingGraphs/);
  assert.match(title.find((m) => m.command === 'latentStudio.stopTraining')!.when!, /resourcePath in latentStudio\.trainingGraphs/);
  assert.ok(!manifest.activationEvents.includes('onLanguage:json'));
  assert.ok(manifest.activationEvents.includes('workspaceContains:**/*.latent.json'));
});
