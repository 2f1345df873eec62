/** The Feature maps tab: one test image and what each convolution layer makes of it, with ‹ › to step through images. */
import { useState } from 'react';
import type { FeaturesResult } from '../../../src/core/inspect';
import { SavePictureButton } from '../charts';
import { pngName } from '../inspectData';
import { PixelImage, type RequestInspect } from './common';

export function FeaturesView({ result, request, busy }: { result: FeaturesResult; request: RequestInspect; busy: boolean }) {
  const [draft, setDraft] = useState<string | null>(null);
  const go = (position: number): void => {
    setDraft(null);
    if (Number.isInteger(position) && position >= 0) request({ kind: 'features', split: result.split, position });
  };
  const label = result.label === undefined ? null : result.classNames?.[result.label] ?? String(result.label);
  return (
    <div className="features">
      <form
        className="toolbar-row field stepper"
        onSubmit={(e) => {
          e.preventDefault();
          go(Number(draft ?? result.position));
        }}
      >
        <label htmlFor="features-position">Test image #</label>
        <button type="button" aria-label="Previous image" title="Previous image" disabled={busy || result.position === 0} onClick={() => go(result.position - 1)}>
          ‹
        </button>
        <input
          id="features-position"
          data-testid="features-position"
          className="num"
          type="number"
          min={0}
          step={1}
          value={draft ?? String(result.position)}
          onChange={(e) => setDraft(e.currentTarget.value)}
          onBlur={() => draft !== null && draft !== String(result.position) && go(Number(draft))}
        />
        <button type="button" aria-label="Next image" title="Next image" disabled={busy} onClick={() => go(result.position + 1)}>
          ›
        </button>
        <span className="muted">
          {result.split} split, dataset index {result.index}
          {label === null ? '' : `, class ${label}`}
        </span>
      </form>
      {result.maps.length === 0 && <p className="muted">This model has no convolution layer with a spatial output, so there are no feature maps to show.</p>}
      <div className="maps">
        <figure className="picture map">
          <figcaption className="with-tools">
            <span>
              <strong>input</strong> <span className="muted">#{result.position}</span>
            </span>
            <SavePictureButton name={pngName(result.split, result.position)} pngBase64={result.inputPngBase64} />
          </figcaption>
          <PixelImage pngBase64={result.inputPngBase64} alt={`test image #${result.position}`} target={112} testId="features-input" data={{ 'data-position': result.position }} />
        </figure>
        {result.maps.map((m) => (
          <figure key={m.layer} className="picture map">
            <figcaption className="with-tools">
              <span>
                <strong>{m.layer}</strong> <span className="muted">{m.shape.join('×')}</span>
                {m.shown < (m.shape[2] ?? m.shown) && <span className="muted"> · first {m.shown} of {m.shape[2]} channels</span>}
              </span>
              <SavePictureButton name={pngName('features', m.layer, result.position)} pngBase64={m.pngBase64} />
            </figcaption>
            <PixelImage pngBase64={m.pngBase64} alt={`Feature maps of ${m.layer} for test image #${result.position}`} target={480} maxZoom={4} testId="feature-map" data={{ 'data-layer': m.layer }} />
          </figure>
        ))}
      </div>
    </div>
  );
}
