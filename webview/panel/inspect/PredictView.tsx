/**
 * The Predict tab: a gallery of test images (pick one with the mouse or the arrow keys), the
 * picked image large with its true class, the predicted one and every class's probability (or,
 * for an autoencoder, its reconstruction and error), and fields to predict chosen images.
 */
import { type KeyboardEvent, useRef, useState } from 'react';
import type { PredictResult, PredictionItem } from '../../../src/core/inspect';
import { SavePictureButton } from '../charts';
import { fmtSig, pct } from '../format';
import { pagePositions, parsePositions, pngName } from '../inspectData';
import { PixelImage, type RequestInspect } from './common';

const PAGE = 24;

const className = (names: readonly string[] | undefined, c: number | undefined): string => (c === undefined ? '–' : names?.[c] ?? String(c));

function GalleryItem({ item, result, selected, onSelect, focusable }: { item: PredictionItem; result: PredictResult; selected: boolean; onSelect: () => void; focusable: boolean }) {
  const classifier = item.predicted !== undefined;
  const right = classifier && item.label !== undefined ? item.predicted === item.label : null;
  return (
    <div
      role="option"
      aria-selected={selected}
      tabIndex={focusable ? 0 : -1}
      className={`gallery-item ${selected ? 'selected' : ''} ${right === false ? 'wrong' : ''}`}
      data-testid="predict-item"
      data-position={item.position}
      title={`test image #${item.position}${item.label === undefined ? '' : `, class ${className(result.classNames, item.label)}`}`}
      onClick={onSelect}
    >
      <img className="pixel" src={`data:image/png;base64,${item.imagePngBase64}`} alt="" />
      <span className="caption">
        {classifier ? (
          <>
            {className(result.classNames, item.predicted)} {right !== null && <span className="mark">{right ? '✓' : '✗'}</span>}
          </>
        ) : item.error !== undefined ? (
          fmtSig(item.error, 3)
        ) : (
          `#${item.position}`
        )}
      </span>
    </div>
  );
}

function Probabilities({ item, classNames }: { item: PredictionItem; classNames: readonly string[] | undefined }) {
  const probs = item.probabilities ?? [];
  return (
    <ol className="probs" aria-label="Probability of each class">
      {probs.map((p, c) => {
        const predicted = c === item.predicted;
        const truth = c === item.label;
        return (
          <li key={c} className={`${predicted ? 'predicted' : ''} ${truth ? 'truth' : ''}`} data-testid="predict-prob" data-class={c} data-p={p} title={`${className(classNames, c)}: ${pct(p, 2)}${truth ? ' (true class)' : ''}`}>
            <span className="name">{className(classNames, c)}</span>
            <span className="track">
              <span className="fill" style={{ width: `${Math.max(0, Math.min(1, p)) * 100}%` }} />
            </span>
            <span className="value">{pct(p, 1)}</span>
          </li>
        );
      })}
    </ol>
  );
}

function Detail({ item, result }: { item: PredictionItem; result: PredictResult }) {
  const classifier = item.predicted !== undefined;
  const right = item.label !== undefined && classifier ? item.predicted === item.label : null;
  const confidence = classifier ? item.probabilities?.[item.predicted!] : undefined;
  return (
    <div className="predict-detail" data-testid="predict-detail" data-position={item.position}>
      <div className="pictures">
        <figure>
          <PixelImage pngBase64={item.imagePngBase64} alt={`test image #${item.position}`} target={168} />
          <figcaption className="with-tools">
            <span>{item.reconstructionPngBase64 ? 'input' : `test image #${item.position}`}</span>
            <SavePictureButton name={pngName(result.split, item.position)} pngBase64={item.imagePngBase64} />
          </figcaption>
        </figure>
        {item.reconstructionPngBase64 && (
          <figure>
            <PixelImage pngBase64={item.reconstructionPngBase64} alt={`reconstruction of test image #${item.position}`} target={168} />
            <figcaption className="with-tools">
              <span>reconstruction</span>
              <SavePictureButton name={pngName(result.split, item.position, 'reconstruction')} pngBase64={item.reconstructionPngBase64} />
            </figcaption>
          </figure>
        )}
      </div>
      <div className="facts-col">
        <dl className="facts">
          <dt>image</dt>
          <dd>
            #{item.position} of the {result.split} split <span className="muted">(dataset index {item.index})</span>
          </dd>
          {item.label !== undefined && (
            <>
              <dt>true class</dt>
              <dd>{className(result.classNames, item.label)}</dd>
            </>
          )}
          {classifier && (
            <>
              <dt>predicted</dt>
              <dd className={`predict-class ${right === false ? 'wrong' : right ? 'right' : ''}`} data-testid="predict-class" data-predicted={item.predicted} data-label={item.label}>
                <strong>{className(result.classNames, item.predicted)}</strong> {right !== null && <span className="mark">{right ? '✓' : '✗'}</span>}
                {confidence !== undefined && <span className="muted"> {pct(confidence, 1)} sure</span>}
              </dd>
            </>
          )}
          {item.error !== undefined && (
            <>
              <dt>error</dt>
              <dd>{fmtSig(item.error, 4)} (mean squared)</dd>
            </>
          )}
        </dl>
        {classifier && <Probabilities item={item} classNames={result.classNames} />}
        {classifier && item.label !== undefined && <p className="muted note">● marks the true class.</p>}
      </div>
    </div>
  );
}

export function PredictView({ result, request, busy }: { result: PredictResult; request: RequestInspect; busy: boolean }) {
  const [selected, setSelected] = useState(0);
  const [text, setText] = useState('');
  const [textError, setTextError] = useState<string | null>(null);
  const gallery = useRef<HTMLDivElement>(null);
  const items = result.items;
  const at = Math.min(selected, Math.max(0, items.length - 1));
  const item = items[at];
  const select = (i: number): void => {
    const next = Math.max(0, Math.min(items.length - 1, i));
    setSelected(next);
    gallery.current?.querySelectorAll<HTMLElement>('[role="option"]')[next]?.focus();
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    // Arrows move along the wrapped rows; up/down by the number of items in a row.
    const options = Array.from(gallery.current?.querySelectorAll<HTMLElement>('[role="option"]') ?? []);
    const perRow = Math.max(1, options.filter((o) => o.offsetTop === options[0]?.offsetTop).length);
    const moves: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -perRow, ArrowDown: perRow, Home: -items.length, End: items.length };
    const d = moves[e.key];
    if (d === undefined) return;
    e.preventDefault();
    select(at + d);
  };
  const predictTyped = (): void => {
    const parsed = parsePositions(text);
    if ('error' in parsed) return setTextError(parsed.error);
    setTextError(null);
    request({ kind: 'predict', split: result.split, positions: parsed.positions });
  };
  const previous = pagePositions(items, PAGE, -1);
  const classifier = result.target === 'labels';
  const wrong = classifier ? items.filter((i) => i.label !== undefined && i.predicted !== i.label).length : 0;
  return (
    <div className="predict">
      <div className="toolbar-row">
        <form
          className="field"
          onSubmit={(e) => {
            e.preventDefault();
            predictTyped();
          }}
        >
          <label htmlFor="predict-positions">Test image #</label>
          <input id="predict-positions" className="num wide" type="text" inputMode="numeric" placeholder="e.g. 7 or 10-20" value={text} onChange={(e) => setText(e.currentTarget.value)} aria-invalid={textError !== null} />
          <button type="submit" disabled={busy}>
            Predict
          </button>
        </form>
        <div className="spacer" />
        <button type="button" disabled={busy || previous.length === 0} onClick={() => request({ kind: 'predict', split: result.split, positions: previous })}>
          ‹ Previous {PAGE}
        </button>
        <button type="button" disabled={busy} onClick={() => request({ kind: 'predict', split: result.split, positions: pagePositions(items, PAGE, 1) })}>
          Next {PAGE} ›
        </button>
      </div>
      {textError && (
        <p className="field-error" role="alert">
          {textError}
        </p>
      )}
      <div className="gallery" role="listbox" aria-label="Test images" aria-orientation="horizontal" ref={gallery} onKeyDown={onKey}>
        {items.map((it, i) => (
          <GalleryItem key={`${it.position}-${i}`} item={it} result={result} selected={i === at} focusable={i === at} onSelect={() => select(i)} />
        ))}
      </div>
      <p className="muted summary">
        {items.length} {items.length === 1 ? 'image' : 'images'}
        {classifier && items.some((i) => i.label !== undefined) ? ` · ${items.length - wrong} right, ${wrong} wrong` : ''}
        {!classifier && items.some((i) => i.error !== undefined) ? ` · mean error ${fmtSig(items.reduce((a, i) => a + (i.error ?? 0), 0) / items.length, 3)}` : ''}
      </p>
      {item && <Detail item={item} result={result} />}
    </div>
  );
}
