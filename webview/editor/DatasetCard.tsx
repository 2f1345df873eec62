/**
 * The dataset card on the Input block: what `training.dataset` holds (source, samples per split,
 * shape, classes with counts, a strip of samples or a small table), "Match Input to dataset" when
 * the shapes differ (one undoable edit), and the sentence when the dataset does not fit.
 */
import { memo } from 'react';
import type { DatasetCard } from '../../src/core/datasetCard';
import { sendEdit, useEditor } from './store';

const fmt = (n: number): string => n.toLocaleString('en-US');
const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The Input's own shape param, when the graph has one. */
function useInputShape(inputId: string): readonly number[] | undefined {
  return useEditor((s) => {
    if (s.document.kind !== 'graph') return undefined;
    const shape = s.document.analysis.nodes.get(inputId)?.params?.shape;
    return Array.isArray(shape) && shape.every((d) => typeof d === 'number') ? (shape as number[]) : undefined;
  });
}

function Classes({ classes }: { classes: NonNullable<DatasetCard['classes']> }) {
  const shown = classes.slice(0, 12);
  return (
    <ul className="card-classes" data-testid="dataset-classes">
      {shown.map((c) => (
        <li key={c.name} className={c.trained ? 'trained' : 'held-out'} title={c.trained ? `${c.name}: ${fmt(c.count)} samples` : `${c.name}: ${fmt(c.count)} samples, held out by training.classes`}>
          {c.name} <span className="count">{fmt(c.count)}</span>
        </li>
      ))}
      {classes.length > shown.length && <li className="more">+{classes.length - shown.length} more</li>}
    </ul>
  );
}

function SmallTable({ table, labels }: { table: NonNullable<DatasetCard['table']>; labels: readonly string[] | undefined }) {
  return (
    <table className="card-table nodrag" data-testid="dataset-table">
      <thead>
        <tr>
          {table.columns.map((c) => (
            <th key={c} title={c}>{c}</th>
          ))}
          {table.moreColumns > 0 && <th title={`${table.moreColumns} more columns`}>…</th>}
          {labels && <th>class</th>}
        </tr>
      </thead>
      <tbody>
        {table.rows.map((row, i) => (
          <tr key={i}>
            {row.map((v, j) => (
              <td key={j}>{v}</td>
            ))}
            {table.moreColumns > 0 && <td />}
            {labels && <td>{labels[i]}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `training.dataset` as the document says now (the card may still describe the one before). */
function useDatasetSpec(): string | undefined {
  return useEditor((s) => {
    if (s.document.kind !== 'graph') return undefined;
    const training = s.document.value.training;
    const spec = typeof training === 'object' && training !== null ? (training as { dataset?: unknown }).dataset : undefined;
    return typeof spec === 'string' ? spec : 'mnist';
  });
}

function DatasetCardImpl({ inputId }: { inputId: string }) {
  const card = useEditor((s) => s.datasetCard);
  const inputShape = useInputShape(inputId);
  const spec = useDatasetSpec();
  if (!card) return null;
  const stale = spec !== undefined && card.spec !== '' && card.spec !== spec;
  const mismatch = !stale && card.shape !== undefined && inputShape !== undefined && shapeText(card.shape) !== shapeText(inputShape);
  return (
    <section className={`dataset-card${stale ? ' stale' : ''}`} data-testid="dataset-card" aria-busy={stale}>
      {stale && <div className="card-note">Reading {spec}…</div>}
      {card.source && <div className="card-source" title={card.spec}>{card.source}</div>}
      {card.split && (
        <div className="card-split" data-testid="dataset-split">
          {fmt(card.split.train)} train · {fmt(card.split.validation)} val · {fmt(card.split.test)} test
          {card.shape && <span className="card-shape"> · {shapeText(card.shape)}</span>}
        </div>
      )}
      {card.classes && <Classes classes={card.classes} />}
      {card.samplesPngBase64 && (
        <img className="card-samples" data-testid="dataset-samples" src={`data:image/png;base64,${card.samplesPngBase64}`} alt={`The first training samples${card.sampleLabels ? `: ${card.sampleLabels.join(', ')}` : ''}`} title={card.sampleLabels?.join(', ')} draggable={false} />
      )}
      {card.table && <SmallTable table={card.table} labels={card.sampleLabels} />}
      {card.notes.map((n) => (
        <div key={n} className="card-note">{n}</div>
      ))}
      {mismatch && (
        <button className="card-match nodrag" data-testid="match-input" title={`Set the Input's shape from ${shapeText(inputShape)} to ${shapeText(card.shape!)}`} onClick={() => sendEdit({ kind: 'setParam', id: inputId, path: ['shape'], value: [...card.shape!] })}>
          Match Input to dataset {shapeText(card.shape!)}
        </button>
      )}
      {card.problem && <div className="block-error" data-testid="dataset-problem">{card.problem}</div>}
    </section>
  );
}

export const DatasetCardView = memo(DatasetCardImpl);
