/** One block on the canvas: type, name, output shape, parameter count, problems; composites expand to their layers. */
import { Handle, type Node, type NodeProps, Position } from '@xyflow/react';
import { memo, useState } from 'react';
import { DatasetCardView } from './DatasetCard';
import { type BlockView, roleBadge } from './graphView';
import { type OutputPreview, previewFor } from './previews';
import { LockIcon } from './StageBar';
import { selectShownStage, useEditor } from './store';

/** `sig`: the view as JSON, to tell a changed block from an unchanged one cheaply (Canvas.tsx). */
export type BlockNodeType = Node<{ view: BlockView; sig: string }, 'block'>;

const COMPOSITES = new Set(['Encoder', 'Decoder', 'Bottleneck', 'ClassifierHead']);
const fmt = (n: number): string => n.toLocaleString('en-US');

/** The newest training preview of an Output block: the PNG across the block, its caption under it. */
function OutputThumbnail({ preview }: { preview: OutputPreview }) {
  return (
    <figure className="thumbnail" data-testid="output-thumbnail" title={preview.caption}>
      <img src={`data:image/png;base64,${preview.pngBase64}`} alt={preview.caption} draggable={false} />
      <figcaption>{preview.caption}</figcaption>
    </figure>
  );
}

function BlockNodeImpl({ data, selected }: NodeProps<BlockNodeType>) {
  const v = data.view;
  const [open, setOpen] = useState(false);
  const preview = useEditor((s) => (v.type === 'Output' ? previewFor(s.previews, v.id) : undefined));
  // The stage picked in the stage bar (or training now): what this block does in it.
  const stage = useEditor((s) => {
    const i = selectShownStage(s);
    return i === undefined ? undefined : s.stages[i];
  });
  const trainingNow = useEditor((s) => s.training && stage !== undefined && s.trainingStage === stage.index);
  const datasetProblem = useEditor((s) => (v.type === 'Input' ? s.datasetCard?.problem : undefined));
  const role = stage?.roles.get(v.id);
  const badge = stage ? roleBadge(role, stage, v.trainable) : undefined;
  const classes = ['block', `cat-${v.category.replace(/\s+/g, '-').toLowerCase()}`];
  if (v.errors.length || datasetProblem) classes.push('has-error');
  else if (v.warnings.length) classes.push('has-warning');
  if (selected) classes.push('selected');
  if (!v.trainable) classes.push('frozen');
  if (preview) classes.push('with-thumbnail');
  if (role === 'unused') classes.push('stage-unused');
  const expandable = COMPOSITES.has(v.type) && v.layers.length > 0;
  const block = (
    <div className={classes.join(' ')} data-testid={`block-${v.id}`} title={[...v.errors, ...(datasetProblem ? [datasetProblem] : []), ...v.warnings].join('\n') || undefined}>
      {v.hasInput && <Handle type="target" position={Position.Top} />}
      {badge && role && (
        <span className={`stage-badge role-${role}${role === 'trained' && trainingNow ? ' now' : ''}`} data-testid="stage-badge" data-role={role} title={badge.title}>
          {role === 'frozen' && <LockIcon />}
          {role === 'trained' && trainingNow ? 'training' : badge.label}
        </span>
      )}
      <div className="block-head">
        <span className="block-type">{v.type}</span>
        {!v.trainable && !badge && <span className="badge">frozen</span>}
        {expandable && (
          <button className="expand nodrag" aria-label={open ? 'Collapse layers' : 'Expand layers'} onClick={() => setOpen(!open)}>
            {open ? '▾' : '▸'}
          </button>
        )}
      </div>
      <div className="block-name">{v.label ?? v.id}</div>
      {v.gist && <div className="block-gist">{v.gist}</div>}
      <div className="block-stats">
        <span className="shape" data-testid={`shape-${v.id}`}>{v.outputShape ?? '—'}</span>
        <span className="params" data-testid={`params-${v.id}`}>{fmt(v.params)} params</span>
      </div>
      {open && (
        <table className="layers nodrag">
          <tbody>
            {v.layers.map((l) => (
              <tr key={l.name}>
                <td>{l.className}</td>
                <td>{l.shape}</td>
                <td className="num">{fmt(l.params)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {preview && <OutputThumbnail preview={preview} />}
      {v.errors.length > 0 && <div className="block-error" data-testid={`error-${v.id}`}>{v.errors[0]}</div>}
      {v.hasOutput && <Handle type="source" position={Position.Bottom} />}
    </div>
  );
  if (v.type !== 'Input') return block;
  // The dataset card beside the Input block, inside the node: fitting the view shows it, and the
  // handles stay on the block (they are positioned within it).
  return (
    <div className="input-with-card">
      {block}
      <DatasetCardView inputId={v.id} />
    </div>
  );
}

export const BlockNode = memo(BlockNodeImpl);
