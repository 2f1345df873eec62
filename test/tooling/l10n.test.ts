/**
 * Localisation: the manifest's strings come from package.nls.json, the host's and the webviews'
 * from l10n/bundle.l10n.json (collected by `npm run l10n`), and a webview page translates with the
 * bundle the host writes into it. English is the only language shipped; these check the mechanism.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as l10n from '@vscode/l10n';
import { ROOT } from '../helpers/samples';
import { L10N_ELEMENT_ID, configureL10n } from '../../webview/shared/l10n';

const manifestText = fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8');
const manifest = JSON.parse(manifestText) as { l10n?: string; contributes: Record<string, unknown> };
const nls = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;

test('every %key% of package.json is in package.nls.json, and every entry there is used', () => {
  const keys = [...manifestText.matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]!);
  assert.ok(keys.length > 50, `the manifest's strings are keys (${keys.length})`);
  for (const key of keys) assert.equal(typeof nls[key], 'string', `package.nls.json lacks "${key}"`);
  const used = new Set(keys);
  assert.deepEqual(Object.keys(nls).filter((k) => !used.has(k)), [], 'entries of package.nls.json no key uses');
});

test('what VS Code shows of the manifest is localisable: command titles, views, settings, the walkthrough', () => {
  const c = manifest.contributes as {
    commands: { title: string; category?: string }[];
    views: Record<string, { name: string }[]>;
    viewsWelcome: { contents: string }[];
    configuration: { title: string; properties: Record<string, { description?: string; markdownDescription?: string; enumDescriptions?: string[] }> };
    walkthroughs: { title: string; description: string; steps: { title: string; description: string; media: { altText?: string } }[] }[];
    customEditors: { displayName: string }[];
  };
  const shown: [string, string | undefined][] = [
    ...c.commands.flatMap((x) => [[`command ${x.title}`, x.title], [`category of ${x.title}`, x.category]] as [string, string | undefined][]),
    ...Object.values(c.views).flat().map((v) => [`view ${v.name}`, v.name] as [string, string]),
    ...c.viewsWelcome.map((w) => ['views welcome', w.contents] as [string, string]),
    ['settings title', c.configuration.title],
    ...Object.entries(c.configuration.properties).flatMap(([k, v]) => [[k, v.description ?? v.markdownDescription], ...(v.enumDescriptions ?? []).map((d) => [`${k} enum`, d])] as [string, string | undefined][]),
    ...c.walkthroughs.flatMap((w) => [['walkthrough', w.title], ['walkthrough', w.description], ...w.steps.flatMap((s) => [[`step ${s.title}`, s.title], [`step ${s.title}`, s.description], [`step ${s.title} image`, s.media.altText]])] as [string, string | undefined][]),
    ...c.customEditors.map((e) => ['custom editor', e.displayName] as [string, string]),
  ];
  for (const [where, text] of shown) assert.match(text ?? '', /^%[^%]+%$/, `${where}: "${text}" is not a %key% of package.nls.json`);
  assert.equal(manifest.l10n, './l10n', 'package.json names the bundle folder');
});

test('l10n/bundle.l10n.json holds every string of vscode.l10n.t in the host and l10n.t in the webviews (npm run l10n)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'latent-l10n-'));
  try {
    const cli = path.join(ROOT, 'node_modules', '@vscode', 'l10n-dev', 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'export', '--outDir', out, './src/extension', './webview'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const fresh = JSON.parse(fs.readFileSync(path.join(out, 'bundle.l10n.json'), 'utf8')) as Record<string, string>;
    const committed = JSON.parse(fs.readFileSync(path.join(ROOT, 'l10n', 'bundle.l10n.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(committed).sort(), Object.keys(fresh).sort(), 'l10n/bundle.l10n.json is stale: run npm run l10n');
    // Both sides are in it: a notification of the host, a button of each webview.
    for (const s of ['Training {0} failed: {1}', 'Show Output', 'Auto layout', 'Evaluate on Test Set']) assert.ok(s in fresh, `"${s}" in the bundle`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a webview page translates with the bundle the host wrote into it, and falls back to English without one', () => {
  assert.equal(l10n.t('Evaluate on Test Set'), 'Evaluate on Test Set');
  const page = (text: string | null): Pick<Document, 'getElementById'> => ({
    getElementById: (id: string) => (id === L10N_ELEMENT_ID && text !== null ? ({ textContent: text } as HTMLElement) : null),
  });
  configureL10n(page('not json'));
  assert.equal(l10n.t('Train'), 'Train', 'an unreadable bundle leaves English');
  // The host escapes "<" so the JSON cannot close its <script> element.
  configureL10n(page(JSON.stringify({ Train: 'Entraîner', '{0} failed: {1}': '{0} a échoué : {1} \u003c/script>' })));
  assert.equal(l10n.t('Train'), 'Entraîner');
  assert.equal(l10n.t('{0} failed: {1}', 'Export', 'disk full'), 'Export a échoué : disk full </script>');
  assert.equal(l10n.t('Fit'), 'Fit', 'a string the bundle lacks stays English');
  l10n.config({ contents: {} });
});
