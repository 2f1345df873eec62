// @ts-check
'use strict';
// Separate bundles per runtime (DESIGN.md convention 9): the extension host and the training
// worker and CLI run in Node; the webview runs in a browser. Native / optional modules stay
// external so a missing @tensorflow/tfjs-node(-gpu) never breaks the build.
const path = require('path');
const webpack = require('webpack');
const CopyPlugin = require('copy-webpack-plugin');

/** Modules resolved at run time from node_modules instead of being bundled. */
const nodeExternals = {
  vscode: 'commonjs vscode',
  '@tensorflow/tfjs-node': 'commonjs @tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu': 'commonjs @tensorflow/tfjs-node-gpu',
  // ESM-only package with a native addon: loaded with import() at run time.
  webgpu: 'import webgpu',
  // HDF5 as WebAssembly (4 MB), an ES module: loaded with import() when a Keras file is imported.
  'h5wasm/node': 'import h5wasm/node',
};

/**
 * The extension host and the CLI must not carry TensorFlow.js (nor our code that loads it): they run
 * training in the worker. A module of those in their bundle fails the build, naming it.
 */
class HostSafeBundle {
  /** @param {import('webpack').Compiler} compiler */
  apply(compiler) {
    const forbidden = /node_modules[\\/]@tensorflow[\\/]|src[\\/](backend|compile|train)[\\/]/;
    compiler.hooks.afterCompile.tap('HostSafeBundle', (compilation) => {
      for (const module of compilation.modules) {
        const resource = 'resource' in module && typeof module.resource === 'string' ? module.resource : '';
        if (forbidden.test(resource)) {
          compilation.errors.push(new webpack.WebpackError(`${path.relative(__dirname, resource)} is in the ${compiler.options.name} bundle, which must stay free of TensorFlow.js: import it from the worker (src/train) only.`));
        }
      }
    });
  }
}

/** @type {(env: unknown, argv: {mode?: string}) => import('webpack').Configuration[]} */
module.exports = (_env, argv) => {
  const production = argv.mode === 'production';
  /** @type {import('webpack').Configuration} */
  const common = {
    mode: production ? 'production' : 'development',
    devtool: production ? false : 'source-map',
    resolve: { extensions: ['.ts', '.tsx', '.js', '.json'] },
    module: {
      rules: [{ test: /\.tsx?$/, exclude: /node_modules/, use: { loader: 'ts-loader', options: { transpileOnly: true } } }],
    },
    performance: { hints: false },
    stats: 'errors-warnings',
  };
  /** @type {import('webpack').Configuration} */
  const node = {
    ...common,
    target: 'node20',
    node: { __dirname: false, __filename: false },
    externals: nodeExternals,
    externalsPresets: { node: true },
    output: { path: path.resolve(__dirname, 'dist'), filename: '[name].js', libraryTarget: 'commonjs2', clean: false },
    ignoreWarnings: [/Critical dependency/, /Can't resolve 'perf_hooks'|Can't resolve 'worker_threads'/],
  };
  return [
    {
      ...node,
      name: 'extension',
      entry: { extension: './src/extension/extension.ts' },
      plugins: [new HostSafeBundle()],
    },
    {
      ...node,
      name: 'cli',
      entry: { cli: './src/cli/bin.ts' },
      plugins: [new HostSafeBundle(), new webpack.BannerPlugin({ banner: '#!/usr/bin/env node', raw: true, entryOnly: true })],
    },
    {
      ...node,
      name: 'worker',
      entry: { worker: './src/train/worker.ts' },
      // tfjs-core's Node platform requires node-fetch only when there is no global fetch; Node 20 has one.
      resolve: { ...common.resolve, alias: { 'node-fetch': false } },
      plugins: [
        // The wasm backend loads its binaries from disk next to the bundle.
        new CopyPlugin({
          patterns: [
            { from: 'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm', to: 'wasm/[name][ext]' },
            // The threaded build's Emscripten glue, which src/backend/kernels/wasm/threads.ts starts itself.
            { from: 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd{.js,.worker.js}', to: 'wasm/[name][ext]' },
          ],
        }),
      ],
    },
    {
      // Only for `npm run test:vscode` (@vscode/test-electron): the extension-host test suite.
      ...node,
      name: 'vscode-tests',
      entry: { suite: './test/vscode/suite.ts' },
      output: { ...node.output, path: path.resolve(__dirname, 'dist', 'test') },
    },
    {
      ...common,
      name: 'webview',
      target: 'web',
      entry: { editor: './webview/editor/main.tsx', panel: './webview/panel/main.tsx' },
      output: { path: path.resolve(__dirname, 'dist', 'webview'), filename: '[name].js' },
      plugins: [
        // Stylesheets are linked (not injected) so the webview's CSP needs no style nonce.
        new CopyPlugin({
          patterns: [
            { from: 'node_modules/@xyflow/react/dist/style.css', to: 'xyflow.css' },
            { from: 'webview/editor/editor.css', to: 'editor.css' },
            { from: 'webview/panel/panel.css', to: 'panel.css' },
            { from: 'node_modules/uplot/dist/uPlot.min.css', to: 'uPlot.min.css' },
          ],
        }),
      ],
    },
  ];
};
