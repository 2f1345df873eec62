/**
 * The inspector: typed inputs for the selected block's parameters, generated from the same
 * schemas the engine validates with (numbers with their ranges, enums as selects, stage lists for
 * Encoder/Decoder). With nothing selected it edits the graph's training settings.
 */
import { type ReactElement, useMemo } from 'react';
import { z } from 'zod';
import { getBlock } from '../../src/core/catalog';
import { METRICS, TrainingSchema } from '../../src/core/format';
import type { GraphEdit } from '../../src/core/edits';
import type { BlockView, Wiring } from './graphView';

interface JsonSchema {
  type?: string | string[];
  enum?: readonly unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  items?: JsonSchema | readonly JsonSchema[];
  anyOf?: readonly JsonSchema[];
  oneOf?: readonly JsonSchema[];
}

type Path = readonly (string | number)[];

function toJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(', ') : String(v));

/** An input that commits on Enter or blur, so typing "128" is one edit, not three. */
function CommitInput(props: { value: string; placeholder?: string; kind?: 'number' | 'text'; min?: number; max?: number; step?: number | 'any'; label: string; onCommit: (raw: string) => void }) {
  return (
    <input
      key={props.value}
      aria-label={props.label}
      type={props.kind === 'number' ? 'number' : 'text'}
      defaultValue={props.value}
      placeholder={props.placeholder}
      min={props.min}
      max={props.max}
      step={props.step}
      onKeyDown={(e) => {
        if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
        if (e.key === 'Escape') {
          (e.target as HTMLInputElement).value = props.value;
          (e.target as HTMLInputElement).blur();
        }
      }}
      onBlur={(e) => {
        if (e.target.value !== props.value) props.onCommit(e.target.value);
      }}
    />
  );
}

function parseNumberList(raw: string): number[] | undefined {
  const parts = raw.split(/[,x×\s]+/).filter(Boolean);
  const nums = parts.map(Number);
  return nums.length > 0 && nums.every((n) => Number.isFinite(n)) ? nums : undefined;
}

interface FieldProps {
  name: string;
  schema: JsonSchema;
  value: unknown;
  required: boolean;
  path: Path;
  onSet: (path: Path, value: unknown) => void;
}

function Field({ name, schema, value, required, path, onSet }: FieldProps) {
  const label = name;
  const hint = schema.description;
  let control: ReactElement;
  const items = isObject(schema.items) ? (schema.items as JsonSchema) : undefined;
  const numberList = schema.type === 'array' && (items?.type === 'integer' || items?.type === 'number');
  const placeholder = schema.default !== undefined ? `${text(schema.default)} (default)` : required ? '' : 'none';
  if (schema.enum) {
    control = (
      <select aria-label={label} value={value === undefined ? '' : String(value)} onChange={(e) => onSet(path, e.target.value === '' ? undefined : e.target.value)}>
        {(!required || value === undefined) && <option value="">{schema.default !== undefined ? `${String(schema.default)} (default)` : '—'}</option>}
        {schema.enum.map((opt) => (
          <option key={String(opt)} value={String(opt)}>
            {String(opt)}
          </option>
        ))}
      </select>
    );
  } else if (schema.type === 'boolean') {
    control = <input aria-label={label} type="checkbox" checked={value === undefined ? schema.default === true : value === true} onChange={(e) => onSet(path, e.target.checked)} />;
  } else if (schema.type === 'integer' || schema.type === 'number') {
    control = (
      <CommitInput
        label={label}
        kind="number"
        value={text(value)}
        placeholder={placeholder}
        min={schema.minimum}
        max={schema.maximum}
        step={schema.type === 'integer' ? 1 : 'any'}
        onCommit={(raw) => onSet(path, raw.trim() === '' ? undefined : Number(raw))}
      />
    );
  } else if (schema.anyOf || numberList) {
    // Number lists ([28, 28, 1]) and "3 or [3, 3]" sizes: typed as comma-separated numbers.
    const single = schema.anyOf?.some((s) => s.type === 'integer');
    control = (
      <CommitInput
        label={label}
        value={text(value)}
        placeholder={placeholder || 'e.g. 28, 28, 1'}
        onCommit={(raw) => {
          if (raw.trim() === '') return onSet(path, undefined);
          const nums = parseNumberList(raw);
          if (!nums) return onSet(path, raw);
          onSet(path, single && nums.length === 1 ? nums[0] : nums);
        }}
      />
    );
  } else {
    control = <CommitInput label={label} value={text(value)} placeholder={placeholder} onCommit={(raw) => onSet(path, raw === '' ? undefined : raw)} />;
  }
  return (
    <label className="field" title={hint}>
      <span className="field-name">{name}</span>
      {control}
    </label>
  );
}

function ObjectFields({ schema, value, path, onSet, skip }: { schema: JsonSchema; value: Record<string, unknown>; path: Path; onSet: (p: Path, v: unknown) => void; skip?: string[] }) {
  const props = schema.properties ?? {};
  return (
    <>
      {Object.entries(props)
        .filter(([k]) => !skip?.includes(k))
        .map(([k, s]) => (
          <Field key={k} name={k} schema={s} value={value[k]} required={schema.required?.includes(k) ?? false} path={[...path, k]} onSet={onSet} />
        ))}
    </>
  );
}

function StageList({ schema, stages, onSet, onReplace }: { schema: JsonSchema; stages: unknown[]; onSet: (p: Path, v: unknown) => void; onReplace: (stages: unknown[]) => void }) {
  const variants = (isObject(schema.items) ? (schema.items as JsonSchema).oneOf : undefined) ?? [];
  const kinds = variants.map((v) => String(v.properties?.kind?.const));
  const defaultsFor = (kind: string): Record<string, unknown> =>
    kind === 'dense' ? { kind, units: 64, activation: 'relu' } : { kind, filters: 16, kernelSize: 3, activation: 'relu' };
  return (
    <div className="stages">
      <div className="stages-title">stages</div>
      {stages.map((raw, i) => {
        const stage = isObject(raw) ? raw : {};
        const variant = variants.find((v) => v.properties?.kind?.const === stage.kind) ?? variants[0];
        return (
          <div className="stage" key={i} data-testid={`stage-${i}`}>
            <div className="stage-head">
              <span>#{i + 1}</span>
              <select aria-label={`stage ${i + 1} kind`} value={String(stage.kind ?? '')} onChange={(e) => onSet(['stages', i], defaultsFor(e.target.value))}>
                {kinds.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
              <button title="Move up" disabled={i === 0} onClick={() => onReplace(move(stages, i, i - 1))}>↑</button>
              <button title="Move down" disabled={i === stages.length - 1} onClick={() => onReplace(move(stages, i, i + 1))}>↓</button>
              <button title="Remove stage" disabled={stages.length <= 1} onClick={() => onReplace(stages.filter((_, j) => j !== i))}>✕</button>
            </div>
            {variant && <ObjectFields schema={variant} value={stage} path={['stages', i]} onSet={onSet} skip={['kind']} />}
          </div>
        );
      })}
      <button className="add-stage" onClick={() => onReplace([...stages, defaultsFor(String((stages.at(-1) as Record<string, unknown> | undefined)?.kind ?? 'dense'))])}>
        + Add stage
      </button>
    </div>
  );
}

function move<T>(list: readonly T[], from: number, to: number): T[] {
  const out = [...list];
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item!);
  return out;
}

/** A block's wires on one side, each a button that removes it. */
function WireList({ label, wires, send }: { label: string; wires: readonly { from: string; to: string; name: string }[]; send: (edit: GraphEdit) => void }) {
  if (wires.length === 0) return null;
  return (
    <div className="wires">
      {label}{' '}
      {wires.map((w) => (
        <button key={w.name} className="wire" title={`Remove the wire ${w.from} → ${w.to}`} aria-label={`Disconnect ${w.from} from ${w.to}`} onClick={() => send({ kind: 'disconnect', from: w.from, to: w.to })}>
          {w.name} ×
        </button>
      ))}
    </div>
  );
}

/** Wiring from the keyboard: the block's wires (each removable) and a list of the blocks its output may go to. */
function WiringSection({ id, wiring, send }: { id: string; wiring: Wiring; send: (edit: GraphEdit) => void }) {
  return (
    <section className="wiring" aria-label="Wiring" data-testid="wiring">
      <h3>Wiring</h3>
      <WireList label="from" wires={wiring.inputs.map((f) => ({ from: f, to: id, name: f }))} send={send} />
      <WireList label="to" wires={wiring.outputs.map((t) => ({ from: id, to: t, name: t }))} send={send} />
      <label className="field">
        <span className="field-name">connect to</span>
        <select
          aria-label="Connect this block's output to"
          data-testid="connect-to"
          value=""
          disabled={wiring.targets.length === 0}
          onChange={(e) => {
            if (e.target.value) send({ kind: 'connect', from: id, to: e.target.value });
          }}
        >
          <option value="">{wiring.targets.length ? 'pick a block…' : 'no block can take it'}</option>
          {wiring.targets.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
    </section>
  );
}

export function BlockInspector({ view, rawParams, send, wiring }: { view: BlockView; rawParams: Record<string, unknown>; send: (edit: GraphEdit) => void; wiring?: Wiring }) {
  const block = getBlock(view.type);
  const schema = useMemo(() => (block ? toJsonSchema(block.params) : undefined), [block]);
  const setParam = (path: Path, value: unknown): void => send({ kind: 'setParam', id: view.id, path: path as (string | number)[], value });
  return (
    <div className="inspector-body" data-testid="inspector">
      <h2>{view.type}</h2>
      {block && <p className="muted">{block.summary}</p>}
      <label className="field">
        <span className="field-name">id</span>
        <CommitInput label="id" value={view.id} onCommit={(raw) => send({ kind: 'renameNode', id: view.id, newId: raw.trim() })} />
      </label>
      <label className="field">
        <span className="field-name">label</span>
        <CommitInput label="label" value={view.label ?? ''} placeholder="(uses the id)" onCommit={(raw) => send({ kind: 'setNode', id: view.id, label: raw.trim() === '' ? null : raw })} />
      </label>
      {view.type !== 'Input' && view.type !== 'Output' && (
        <label className="field">
          <span className="field-name">trainable</span>
          <input aria-label="trainable" type="checkbox" checked={view.trainable} onChange={(e) => send({ kind: 'setNode', id: view.id, trainable: e.target.checked ? null : false })} />
        </label>
      )}
      {schema && (
        <>
          <ObjectFields schema={schema} value={rawParams} path={[]} onSet={setParam} skip={['stages', ...(block?.inapplicable?.(rawParams) ?? [])]} />
          {schema.properties?.stages && (
            <StageList
              schema={schema.properties.stages}
              stages={Array.isArray(rawParams.stages) ? rawParams.stages : []}
              onSet={setParam}
              onReplace={(stages) => setParam(['stages'], stages)}
            />
          )}
        </>
      )}
      {view.type === 'Encoder' && (
        <button className="primary" onClick={() => send({ kind: 'mirrorDecoder', encoderId: view.id })} data-testid="mirror-decoder">
          Mirror decoder from this encoder
        </button>
      )}
      {wiring && <WiringSection id={view.id} wiring={wiring} send={send} />}
      <div className="stats">
        <div>output {view.outputShape ?? '—'}</div>
        <div>{view.params.toLocaleString('en-US')} parameters</div>
      </div>
      {view.errors.map((e) => (
        <p key={e} className="problem error">{e}</p>
      ))}
      {view.warnings.map((w) => (
        <p key={w} className="problem warning">{w}</p>
      ))}
    </div>
  );
}

const trainingSchema = toJsonSchema(TrainingSchema);

export function TrainingInspector({ training, send }: { training: Record<string, unknown>; send: (edit: GraphEdit) => void }) {
  const props = trainingSchema.properties ?? {};
  const shown = ['dataset', 'loss', 'optimizer', 'learningRate', 'epochs', 'batchSize', 'seed'];
  const onSet = (path: Path, value: unknown): void => send({ kind: 'setTraining', path: path as (string | number)[], value });
  const split = isObject(training.split) ? training.split : {};
  const metrics = Array.isArray(training.metrics) ? training.metrics.map(String) : [];
  return (
    <div className="inspector-body" data-testid="training-inspector">
      <h2>Training</h2>
      <p className="muted">Select a block to edit it. These settings apply to the whole graph.</p>
      {shown.map((k) => (props[k] ? <Field key={k} name={k} schema={props[k]!} value={training[k]} required={false} path={[k]} onSet={onSet} /> : null))}
      <Field name="validation split" schema={{ type: 'number', minimum: 0, maximum: 0.9, default: 0.1 }} value={split.validation} required={false} path={['split', 'validation']} onSet={onSet} />
      <Field name="test split" schema={{ type: 'number', minimum: 0, maximum: 0.9, default: 0.2 }} value={split.test} required={false} path={['split', 'test']} onSet={onSet} />
      <fieldset className="metrics">
        <legend>metrics</legend>
        {METRICS.map((m) => (
          <label key={m}>
            <input type="checkbox" checked={metrics.includes(m)} onChange={(e) => onSet(['metrics'], e.target.checked ? [...metrics, m] : metrics.filter((x) => x !== m))} /> {m}
          </label>
        ))}
      </fieldset>
      {Array.isArray(training.stages) && training.stages.length > 0 && (
        <div className="muted">
          Stages: {training.stages.map((s) => (isObject(s) ? String(s.name) : '?')).join(' → ')}
        </div>
      )}
    </div>
  );
}
