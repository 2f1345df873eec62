/** The training stages in order as chips; the picked (or training) stage shows its roles on the blocks. */
import { Fragment } from 'react';
import type { StageChip } from './graphView';
import { pickStage, selectShownStage, useEditor } from './store';

/** A padlock, drawn in the text colour (no icon font in the webview). */
export function LockIcon() {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="10" height="10" aria-hidden="true">
      <path fill="currentColor" d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2h.5A1 1 0 0 1 13 8v6a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h.5zm1.5 0h4V5a2 2 0 1 0-4 0v2z" />
    </svg>
  );
}

function chipTitle(s: StageChip, running: boolean, selected: boolean): string {
  const head = `Stage ${s.index + 1}: ${s.name}${running ? ' (training now)' : ''}`;
  const hint = selected ? 'Click again to hide the stage on the blocks.' : 'Click to show on the blocks what this stage trains, freezes and leaves out.';
  return `${head}\n${s.detail}\n\n${hint}`;
}

export function StageBar() {
  const stages = useEditor((s) => s.stages);
  const shown = useEditor(selectShownStage);
  const training = useEditor((s) => s.training);
  const trainingStage = useEditor((s) => s.trainingStage);
  if (stages.length === 0) return null;
  return (
    <nav className="stage-bar" data-testid="stage-bar" aria-label="Training stages">
      <span className="stage-bar-title">Stages</span>
      <div className="stage-chips">
        {stages.map((s) => {
          const selected = shown === s.index;
          const running = training && trainingStage === s.index;
          const classes = ['stage-chip', ...(selected ? ['selected'] : []), ...(running ? ['running'] : [])];
          return (
            <Fragment key={s.index}>
              {s.index > 0 && (
                <span className="stage-arrow" aria-hidden="true">
                  →
                </span>
              )}
              <button
                className={classes.join(' ')}
                data-testid="stage-chip"
                data-stage-index={s.index}
                data-selected={String(selected)}
                data-running={String(running)}
                aria-pressed={selected}
                title={chipTitle(s, running, selected)}
                onClick={() => pickStage(s.index)}
              >
                <span className="stage-num">{s.index + 1}</span>
                <span className="stage-name">{s.name}</span>
                {s.kind === 'layerwise' && <span className="stage-kind">layer-wise</span>}
                {running && <span className="stage-running">training…</span>}
              </button>
            </Fragment>
          );
        })}
      </div>
      {shown === undefined ? (
        <span className="stage-hint">Pick a stage to see what it trains</span>
      ) : (
        <span className="stage-legend" aria-label="Legend">
          <span className="stage-badge role-trained legend">trains</span>
          <span className="stage-badge role-frozen legend">
            <LockIcon />
            frozen
          </span>
          <span className="stage-badge role-unused legend">not in stage</span>
        </span>
      )}
    </nav>
  );
}
