/**
 * The host ⇄ graph-editor webview protocol. The webview asks (`ready`), the host answers with the
 * document text; every change of the TextDocument (graph edits, undo, git checkout, a text editor
 * beside it) is sent again as text, and the webview re-analyzes it with src/core. Edits travel the
 * other way as semantic GraphEdits, validated here before the host applies them.
 */
import { z } from 'zod';
import { DatasetCardSchema } from './datasetCard';
import { ACTIVATIONS } from './format';
import { type Parsed, RejectedSchema, parseWith, request } from './messages';

const position = z.object({ x: z.number().finite(), y: z.number().finite() }).strict();
const pathSchema = z.array(z.union([z.string(), z.number().int().min(0)])).min(1).max(16).readonly();
const id = z.string().min(1).max(64);
const params = z.record(z.string(), z.unknown());

export const GraphEditSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('addNode'), type: z.string().min(1), id: id.optional(), params: params.optional(), position, connectFrom: id.optional() }).strict(),
  z.object({ kind: z.literal('removeNodes'), ids: z.array(id).min(1).readonly() }).strict(),
  z.object({ kind: z.literal('connect'), from: id, to: id }).strict(),
  z.object({ kind: z.literal('disconnect'), from: id, to: id }).strict(),
  z.object({ kind: z.literal('setParams'), id, params }).strict(),
  z.object({ kind: z.literal('setParam'), id, path: pathSchema, value: z.unknown() }).strict(),
  z.object({ kind: z.literal('setNode'), id, label: z.string().max(200).nullable().optional(), trainable: z.boolean().nullable().optional() }).strict(),
  z.object({ kind: z.literal('renameNode'), id, newId: id }).strict(),
  z.object({ kind: z.literal('move'), positions: z.record(z.string(), position) }).strict(),
  z
    .object({
      kind: z.literal('paste'),
      nodes: z.array(z.object({ id, type: z.string().min(1), label: z.string().optional(), trainable: z.boolean().optional(), params: params.optional() }).strict()).min(1).readonly(),
      edges: z.array(z.object({ from: id, to: id }).strict()).readonly(),
      positions: z.record(z.string(), position),
      offset: position,
    })
    .strict(),
  z.object({ kind: z.literal('setTraining'), path: pathSchema, value: z.unknown() }).strict(),
  z.object({ kind: z.literal('mirrorDecoder'), encoderId: id, position: position.optional(), transpose: z.boolean().optional(), outputActivation: z.enum(ACTIVATIONS).optional() }).strict(),
]);

/**
 * Where the editor's palette and inspector go (webview/editor/layout.ts): `auto` by the editor's
 * width, `open` docked, `collapsed` an icon rail. Remembered per workspace by the host.
 */
export const PANEL_PREFS = ['auto', 'open', 'collapsed'] as const;
export type PanelPref = (typeof PANEL_PREFS)[number];
export const LayoutPrefsSchema = z.object({ palette: z.enum(PANEL_PREFS), inspector: z.enum(PANEL_PREFS) }).strict();
export type LayoutPrefs = z.infer<typeof LayoutPrefsSchema>;
export const DEFAULT_LAYOUT: LayoutPrefs = { palette: 'auto', inspector: 'auto' };

/** Editor → host. Each message may carry an `id` (the editor's store numbers them); a rejected one is answered by it. */
export const ToHostSchema = z.discriminatedUnion('type', [
  request({ type: z.literal('ready') }),
  /** One user action, applied as one undo step. */
  request({ type: z.literal('edit'), edit: GraphEditSchema }),
  /** Several edits that form one action (e.g. add a block and wire it), applied as one undo step. */
  request({ type: z.literal('edits'), edits: z.array(GraphEditSchema).min(1).max(100).readonly() }),
  request({ type: z.literal('openAsText') }),
  request({ type: z.literal('newFromTemplate') }),
  request({ type: z.literal('train') }),
  request({ type: z.literal('stop') }),
  /** The graph drawn as a picture (Export Graph as PNG): the host asks where to save it. */
  request({
    type: z.literal('savePng'),
    name: z.string().regex(/^[\w.-]{1,100}\.png$/, 'a plain file name ending in .png'),
    pngBase64: z.string().min(1),
  }),
  /** The person changed where the palette or inspector goes: remember it for this workspace. */
  request({ type: z.literal('layout'), prefs: LayoutPrefsSchema }),
  /** A host message the editor could not accept (logged in the host's output channel). */
  RejectedSchema,
]);
export type ToHost = z.infer<typeof ToHostSchema>;

export const ToEditorSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('document'), text: z.string(), version: z.number().int(), fileName: z.string() }).strict(),
  /** An edit the host refused or could not apply, as a sentence. */
  z.object({ type: z.literal('editFailed'), inReplyTo: z.number().int().optional(), message: z.string() }).strict(),
  /** An edit the host applied (its document, changed or not, was sent before this): the editor's own copy may retire it. */
  z.object({ type: z.literal('editApplied'), inReplyTo: z.number().int() }).strict(),
  /** A message from the editor the host could not accept: the sentence. */
  RejectedSchema,
  z.object({ type: z.literal('notice'), message: z.string() }).strict(),
  /** The newest training preview of an Output block, shown as a thumbnail on that block. */
  z.object({ type: z.literal('preview'), outputId: z.string(), epoch: z.number().int(), pngBase64: z.string(), caption: z.string() }).strict(),
  /** Whether this graph is training now (the toolbar shows Stop instead of Train). */
  z
    .object({
      type: z.literal('training'),
      running: z.boolean(),
      /** The stage training now (index into the graph's resolved stages), while running. */
      stageIndex: z.number().int().min(0).optional(),
    })
    .strict(),
  /** Draw the graph as a PNG and send it back as `savePng` (the Export Graph as PNG command). */
  z.object({ type: z.literal('exportImage') }).strict(),
  /** This workspace's palette and inspector preferences: on ready, and when another editor changed them. */
  z.object({ type: z.literal('layout'), prefs: LayoutPrefsSchema }).strict(),
  /** The dataset card of the graph's Input (core/datasetCard.ts), each time it is read again. */
  z.object({ type: z.literal('datasetCard'), card: DatasetCardSchema }).strict(),
  /** Whether the workspace is trusted: in Restricted Mode the editor edits and validates, and Train says why it cannot. */
  z.object({ type: z.literal('trust'), trusted: z.boolean() }).strict(),
]);
export type ToEditor = z.infer<typeof ToEditorSchema>;

export const parseToHost = (raw: unknown): Parsed<ToHost> => parseWith(ToHostSchema, raw, 'Malformed editor message');
export const parseToEditor = (raw: unknown): Parsed<ToEditor> => parseWith(ToEditorSchema, raw, 'Malformed host message');
