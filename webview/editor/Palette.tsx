/** The block palette's content (framed by SidePanel): searchable, grouped; drag a block onto the canvas or press Enter / click to add it. */
import { useMemo, useState } from 'react';
import { BLOCKS, type BlockCategory } from '../../src/core/catalog';

export const BLOCK_MIME = 'application/x-latent-block';
const GROUPS: readonly BlockCategory[] = ['Inputs', 'Layers', 'Autoencoder blocks', 'Heads', 'Outputs'];

export function Palette({ onAdd }: { onAdd: (type: string) => void }) {
  const [query, setQuery] = useState('');
  const groups = useMemo(() => {
    const q = query.trim().toLowerCase();
    return GROUPS.map((g) => ({
      group: g,
      blocks: BLOCKS.filter((b) => b.category === g && (!q || b.type.toLowerCase().includes(q) || b.summary.toLowerCase().includes(q))),
    })).filter((g) => g.blocks.length > 0);
  }, [query]);
  return (
    <>
      <input className="search" type="search" placeholder="Search blocks" aria-label="Search blocks" value={query} onChange={(e) => setQuery(e.target.value)} />
      {groups.map(({ group, blocks }) => (
        <section key={group}>
          <h3>{group}</h3>
          {blocks.map((b) => (
            <div
              key={b.type}
              className="palette-item"
              role="button"
              tabIndex={0}
              draggable
              data-testid={`palette-${b.type}`}
              title={b.summary}
              onDragStart={(e) => {
                e.dataTransfer.setData(BLOCK_MIME, b.type);
                e.dataTransfer.effectAllowed = 'copy';
              }}
              onClick={() => onAdd(b.type)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  onAdd(b.type);
                }
              }}
            >
              {b.type}
            </div>
          ))}
        </section>
      ))}
      {groups.length === 0 && <p className="muted">No block matches “{query}”.</p>}
    </>
  );
}
