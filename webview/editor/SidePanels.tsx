/**
 * The palette's and inspector's frames at every width (layout.ts): docked beside the canvas with a
 * collapse button, an icon rail, or an overlay over the canvas opened from the rail (pin docks it,
 * × or Escape closes it).
 */
import { type ReactNode, useEffect } from 'react';
import type { PanelMode, PanelName } from './layout';

const TITLES: Record<PanelName, string> = { palette: 'Blocks', inspector: 'Inspector' };

/** Small icons in the text colour (the webview has no icon font). */
function Icon({ name }: { name: 'blocks' | 'inspector' | 'collapse-left' | 'collapse-right' | 'pin' | 'close' }) {
  const paths: Record<typeof name, string> = {
    blocks: 'M2 2h5v5H2zm7 0h5v5H9zM2 9h5v5H2zm7 2.5h5M11.5 9v5',
    inspector: 'M2 4h12M2 8h12M2 12h12M5 2.5v3M10 6.5v3M7 10.5v3',
    'collapse-left': 'M10 3 5 8l5 5',
    'collapse-right': 'M6 3l5 5-5 5',
    pin: 'M9.5 2 14 6.5l-2 1-2.5 2.5.5 3-1 1L2 7l1-1 3 .5L8.5 4z M5 11l-3 3',
    close: 'M3.5 3.5l9 9m0-9-9 9',
  };
  return (
    <svg className="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d={paths[name]} fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

/** The collapsed form: one button that opens the panel, with its name written down the rail. */
export function Rail({ panel, detail, onExpand }: { panel: PanelName; detail?: string; onExpand: () => void }) {
  const label = detail ? `${TITLES[panel]} · ${detail}` : TITLES[panel];
  return (
    <nav className={`rail rail-${panel}`} aria-label={`${TITLES[panel]} (collapsed)`} data-testid={`rail-${panel}`}>
      <button className="rail-button" onClick={onExpand} title={`Show the ${TITLES[panel].toLowerCase()}`} aria-label={`Show the ${TITLES[panel].toLowerCase()}`} data-testid={`expand-${panel}`}>
        <Icon name={panel === 'palette' ? 'blocks' : 'inspector'} />
        <span className="rail-label">{label}</span>
      </button>
    </nav>
  );
}

/**
 * A panel's frame with its title bar. `docked`: beside the canvas, with a collapse button.
 * `overlay`: over the canvas, with pin and close; Escape closes it too.
 */
export function SidePanel({
  panel,
  mode,
  onCollapse,
  onPin,
  onClose,
  children,
}: {
  panel: PanelName;
  mode: PanelMode | 'overlay';
  onCollapse: () => void;
  onPin: () => void;
  onClose: () => void;
  children: ReactNode;
}) {
  useEffect(() => {
    if (mode !== 'overlay') return undefined;
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [mode, onClose]);
  const title = TITLES[panel];
  return (
    <aside className={`${panel} side-panel ${mode === 'overlay' ? 'overlay' : 'docked'}`} aria-label={panel === 'palette' ? 'Block palette' : 'Inspector'} data-testid={`panel-${panel}`} data-mode={mode}>
      <div className="panel-title">
        <span>{title}</span>
        {mode === 'overlay' ? (
          <span className="panel-actions">
            <button className="icon-button" onClick={onPin} title={`Keep the ${title.toLowerCase()} docked beside the canvas`} aria-label={`Dock the ${title.toLowerCase()}`} data-testid={`pin-${panel}`}>
              <Icon name="pin" />
            </button>
            <button className="icon-button" onClick={onClose} title="Close (Escape)" aria-label={`Close the ${title.toLowerCase()}`} data-testid={`close-${panel}`}>
              <Icon name="close" />
            </button>
          </span>
        ) : (
          <button className="icon-button" onClick={onCollapse} title={`Collapse the ${title.toLowerCase()} to an icon (remembered for this workspace)`} aria-label={`Collapse the ${title.toLowerCase()}`} data-testid={`collapse-${panel}`}>
            <Icon name={panel === 'palette' ? 'collapse-left' : 'collapse-right'} />
          </button>
        )}
      </div>
      <div className="panel-body">{children}</div>
    </aside>
  );
}
