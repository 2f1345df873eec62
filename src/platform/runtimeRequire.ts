import * as path from 'node:path';

// Webpack rewrites `require` inside bundles; this is how a bundle names Node's own require.
declare const __non_webpack_require__: NodeRequire | undefined;

/** Node's real require even inside dist/worker.js, so .resolve() finds node_modules at run time (webpack: "Critical dependency", harmless). */
export function runtimeRequire(): NodeRequire {
  return typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;
}

/** Folder of an installed npm package, or null when it is not installed. */
export function resolvePackageDir(name: string): string | null {
  try {
    return path.dirname(runtimeRequire().resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}
