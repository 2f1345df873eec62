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
const nls = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.nls.json'), 'utf8')) as Record<string, string>;
/** A manifest string as VS Code shows it in English: a %key% looked up in package.nls.json. */
const shown = (s: string | undefined): string => (s ?? '').replace(/^%([^%]+)%$/, (k, key: string) => nls[key] ?? k);
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
  assert.match(shown(untrusted?.description), /Restricted Mode.*trusted workspace/);
  // Every other setting that is a path or a program would need the same care: there is none.
  const others = Object.entries(settings).filter(([name, s]) => !MACHINE_PATHS.includes(name) && s.type === 'string' && /path|python|node|command|exec/i.test(name));
  assert.deepEqual(others.map(([n]) => n), []);
});

test('virtual workspaces are declined, with the reason', () => {
  const v = manifest.capabilities?.virtualWorkspaces;
  assert.ok(typeof v === 'object' && v.supported === false);
  assert.match(shown(v.description), /files on disk/);
});

test('the editor title shows Train or Stop by state, and activation is not on every JSON file', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { activationEvents: string[]; contributes: { menus: Record<string, { command: string; when?: string }[]> } };
  const title = manifest.contributes.menus['editor/title']!;
  assert.match(title.find((m) => m.command === 'latentStudio.trainModel')!.when!, /resourcePath not in latentStudio\.trainingGraphs/);
  assert.match(title.find((m) => m.command === 'latentStudio.stopTraining')!.when!, /resourcePath in latentStudio\.trainingGraphs/);
  assert.ok(!manifest.activationEvents.includes('onLanguage:json'));
  assert.ok(manifest.activationEvents.includes('workspaceContains:**/*.latent.json'));
});

test('the walkthrough: five steps, each with a picture that ships, links to commands that exist, and a way to be done', () => {
  const root = path.join(__dirname, '..', '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { commands: { command: string }[]; walkthroughs: { id: string; steps: { id: string; title: string; description: string; media: { image?: string }; completionEvents: string[] }[] }[] };
  };
  const commands = new Set(pkg.contributes.commands.map((c) => c.command));
  const [walkthrough] = pkg.contributes.walkthroughs;
  assert.ok(walkthrough);
  assert.deepEqual(walkthrough.steps.map((s) => s.id), ['openSample', 'train', 'reconstructions', 'anomalies', 'export']);
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^!media\/\*\*$/m, 'media/ ships in the .vsix');
  for (const step of walkthrough.steps) {
    const image = step.media.image ?? '';
    assert.match(image, /^media\/walkthrough\/.+\.png$/, `${step.id}: a picture`);
    const bytes = fs.readFileSync(path.join(root, image));
    assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG', `${image} is a PNG`);
    const text = shown(step.description);
    const links = [...text.matchAll(/\(command:([\w.]+)(\?[^)]*)?\)/g)];
    assert.ok(links.length > 0, `${step.id}: a button`);
    for (const [, command, args] of links) {
      assert.ok(commands.has(command!), `${step.id}: ${command} is a contributed command`);
      if (args) assert.ok(Array.isArray(JSON.parse(decodeURIComponent(args.slice(1)))), `${step.id}: ${command}'s arguments are a JSON array`);
      if (args?.includes('latent.json')) assert.ok(fs.existsSync(path.join(root, 'samples', (JSON.parse(decodeURIComponent(args.slice(1))) as string[])[0]!)), `${step.id}: the sample it opens ships`);
    }
    for (const e of step.completionEvents) {
      const m = /^onCommand:(.+)$/.exec(e);
      assert.ok(m && commands.has(m[1]!), `${step.id}: completion event ${e} names a contributed command`);
    }
  }
});
