// @ts-check
/**
 * Lint: typescript-eslint's recommended rules, and the layering of DESIGN.md checked rather than
 * remembered. Arrows point down only:
 *
 *   extension, cli  →  run  →  core            train → compile → backend → core
 *   webview → core; data → core; import → core; export → core, data; platform (Node helpers) → nothing of ours
 *
 * `import-x/no-restricted-paths` resolves every import to a file, so a relative path cannot slip
 * past it; `no-restricted-imports` keeps packages (tfjs, vscode, node) out of the layers that must
 * not load them. test/tooling/layering.test.ts proves a wrong-direction import fails.
 */
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';

const src = (folder) => `./src/${folder}`;

/** `target` may not import anything under `from` (but `except`, relative to `from`); `message` says why. */
const zone = (target, from, message, except) => ({ target, from, message, ...(except ? { except } : {}) });

const TFJS = { group: ['@tensorflow/*'], message: 'This layer must not load TensorFlow.js: only src/backend, src/compile and src/train (the worker) may.' };
const VSCODE = { name: 'vscode', message: 'Only src/extension may use the VS Code API.' };
const UMBRELLA = { name: '@tensorflow/tfjs', message: 'Not the umbrella package (it bundles the converter, tfjs-data and WebGL, unused here): import TensorFlow.js from src/backend/tf.ts.' };
const NODE = { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'worker_threads', 'url', 'util', 'stream', 'events'], message: 'This layer runs without Node: no node modules here.' };

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.cache/**', '.e2e/**', '.test-output/**', '.device/**', '.gl/**', 'src/backend/kernels/wasm/simdBinary.ts', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.json', '.d.ts'] })] },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'import-x/no-duplicates': 'error',
      'import-x/no-self-import': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            zone(src('core'), './src', 'src/core is pure: it imports only src/core (and zod).', ['./core']),
            zone(src('core'), ['./webview', './test', './bench', './scripts'], 'src/core is pure: it imports only src/core (and zod).'),
            zone(src('platform'), './src', 'src/platform holds Node helpers everything may use: it imports nothing of ours.', ['./platform']),
            zone(src('platform'), './webview', 'src/platform holds Node helpers everything may use: it imports nothing of ours.'),
            ...['run', 'extension', 'cli'].flatMap((t) =>
              ['backend', 'compile', 'train'].map((f) => zone(src(t), src(f), `src/${t} is host-safe: it starts the worker (src/run/client.ts) and never imports src/${f}, which loads TensorFlow.js.`)),
            ),
            zone(src('run'), [src('extension'), src('cli')], 'src/run sits below the extension and the CLI.'),
            zone(src('cli'), src('extension'), 'The CLI runs without VS Code.'),
            zone(src('extension'), src('cli'), 'The extension and the CLI are siblings over src/run.'),
            zone(src('compile'), [src('train'), src('run'), src('extension'), src('cli'), src('data')], 'src/compile turns a graph into models: it may use src/backend, never the training loop or the host.'),
            zone(src('backend'), [src('compile'), src('train'), src('run'), src('extension'), src('cli'), src('data')], 'src/backend sits below src/compile and src/train: it imports only src/core and src/platform.'),
            zone(src('data'), [src('compile'), src('backend'), src('train'), src('run'), src('extension'), src('cli')], 'src/data loads datasets into typed arrays: it imports only src/core and src/platform.'),
            zone(src('train'), [src('extension'), src('cli')], 'The worker never imports the extension or the CLI.'),
            zone(src('export'), [src('run'), src('extension'), src('cli'), src('train'), src('compile'), src('backend')], 'src/export turns graphs and runs into other formats (PyTorch code): it imports src/core and src/data only, so the host can use it.'),
            zone(src('import'), [src('run'), src('extension'), src('cli'), src('train'), src('compile'), src('backend'), src('data'), src('export')], 'src/import turns other formats into graphs: it imports src/core only, so the host and the webviews could use it.'),
            zone('./webview', './src', 'The webviews run in a browser: they import src/core only.', ['./core']),
          ],
        },
      ],
    },
  },
  {
    files: ['src/import/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [VSCODE], patterns: [TFJS, NODE] }] },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [VSCODE], patterns: [TFJS, NODE] }] },
  },
  {
    files: ['webview/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'no-restricted-imports': ['error', { paths: [VSCODE], patterns: [TFJS, NODE] }],
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    files: ['src/run/**/*.ts', 'src/cli/**/*.ts', 'src/data/**/*.ts', 'src/platform/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [VSCODE], patterns: [TFJS] }] },
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [TFJS] }],
      // Nonces and anything else a webview or a stranger could guess come from node:crypto.
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use node:crypto (randomBytes, randomUUID) in the extension host.' }],
      'no-restricted-syntax': ['error', { selector: "MemberExpression[property.name='showErrorMessage']", message: 'Use showError from src/extension/notify.ts: every failure notification offers Show Output and is logged.' }],
    },
  },
  {
    files: ['src/extension/notify.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['src/backend/**/*.ts', 'src/compile/**/*.ts', 'src/train/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [VSCODE, UMBRELLA] }] },
  },
  {
    // Tests reach into internals and build odd inputs on purpose; the layering rules do not apply to them.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
