import { runtimeRequire } from '../platform/runtimeRequire';
import { DatasetError } from './types';

/** sharp's image constructor (native, loaded at run time: the bundles keep it external). */
export type Sharp = typeof import('sharp').default;

let loaded: Sharp | undefined;

/** sharp, or a sentence saying it did not load and what to do. */
export function loadSharp(): Sharp {
  if (loaded) return loaded;
  try {
    const mod = runtimeRequire()('sharp') as Sharp | { default: Sharp };
    loaded = typeof mod === 'function' ? mod : mod.default;
  } catch (err) {
    throw new DatasetError(`Image folders and resizing need the npm package "sharp", which did not load (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): reinstall Latent Studio, or run npm install sharp`);
  }
  // No file cache: every image is read once, and thousands of cached buffers would only cost memory.
  loaded.cache(false);
  return loaded;
}
