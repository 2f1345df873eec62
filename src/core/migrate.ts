/**
 * Format migrations: every older `formatVersion` is brought up to the current one step by step
 * before validation, so old files keep opening. Each step is a pure function on parsed JSON.
 */
import { FORMAT_VERSION } from './format';
import type { Problem } from './problems';

type Json = Record<string, unknown>;

/**
 * Steps keyed by the version they upgrade from. Version 0 is the unversioned draft format some early
 * files were written in: node positions sat inside each node (`position`) instead of a layout section.
 */
const STEPS: Record<number, (doc: Json) => Json> = {
  0: (doc) => {
    const layout: Record<string, unknown> = { ...(isObject(doc.layout) ? doc.layout : {}) };
    const nodes = Array.isArray(doc.nodes)
      ? doc.nodes.map((node: unknown) => {
          if (!isObject(node) || !('position' in node)) return node;
          const { position, ...rest } = node;
          if (typeof rest.id === 'string') layout[rest.id] = position;
          return rest;
        })
      : doc.nodes;
    return { ...doc, formatVersion: 1, nodes, layout };
  },
};

export type MigrationResult =
  | { readonly ok: true; readonly document: Json; readonly from: number }
  | { readonly ok: false; readonly problem: Problem };

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function migrate(raw: unknown): MigrationResult {
  if (!isObject(raw)) {
    return {
      ok: false,
      problem: { severity: 'error', path: [], message: 'A graph file must hold one JSON object with "formatVersion", "nodes" and "edges".' },
    };
  }
  // Files without a version are the unversioned draft (version 0).
  const version = raw.formatVersion === undefined ? 0 : raw.formatVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    return {
      ok: false,
      problem: { severity: 'error', path: ['formatVersion'], message: `"formatVersion" must be a whole number (this version of Latent Studio writes ${FORMAT_VERSION}).` },
    };
  }
  if (version > FORMAT_VERSION) {
    return {
      ok: false,
      problem: {
        severity: 'error',
        path: ['formatVersion'],
        message: `This file uses format ${version}, written by a newer Latent Studio; this version reads formats up to ${FORMAT_VERSION}. Update the extension to open it.`,
      },
    };
  }
  let doc = raw;
  for (let v = version; v < FORMAT_VERSION; v++) {
    const step = STEPS[v];
    if (!step) throw new Error(`No migration from format ${v}`); // a gap here is a programming error
    doc = step(doc);
  }
  return { ok: true, document: doc, from: version };
}
