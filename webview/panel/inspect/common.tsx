/** What every inspect tab shares: its frame (run / run again, busy, error) and crisp pictures. */
import { type ReactNode, useState } from 'react';
import { type InspectKind, type PanelInspectRequest, PanelInspectRequestSchema } from '../../../src/core/inspect';
import { when } from '../format';
import { postToHost } from '../store';

/** The tab title, what the job does, its first-run button and what it says while it works. */
export const INSPECT_TEXT: Record<InspectKind, { tab: string; title: string; about: string; run: string; working: string }> = {
  score: {
    tab: 'Anomalies',
    title: 'Anomaly detection',
    about: "Scores every test image by how badly the autoencoder reconstructs it: images unlike the training data score high, and a threshold flags them.",
    run: 'Score test images',
    working: 'Scoring the test images…',
  },
  predict: {
    tab: 'Predict',
    title: 'Predictions',
    about: "Runs test images through the trained model and shows what it makes of each: a classifier's class probabilities, an autoencoder's reconstruction.",
    run: 'Predict 24 test images',
    working: 'Predicting…',
  },
  weights: {
    tab: 'Weights',
    title: 'Weights',
    about: "Draws the first Dense or Conv2D layer's weights as pictures, one tile per unit: what each unit responds to in the input.",
    run: 'Show weights',
    working: 'Reading the weights…',
  },
  features: {
    tab: 'Feature maps',
    title: 'Feature maps',
    about: 'Runs one test image through the model and shows what every convolution layer makes of it, one small picture per channel.',
    run: 'Show feature maps',
    working: 'Computing the feature maps…',
  },
  latent: {
    tab: 'Latent space',
    title: 'Latent space',
    about: 'Encodes test images and plots their codes, coloured by class (the first two principal components when the code is wider than 2): click a point to see its image and reconstruction.',
    run: 'Plot latent space',
    working: 'Encoding the test images…',
  },
};

/** The request each tab's first "Run" sends: the job's defaults. */
export const DEFAULT_REQUEST: { readonly [K in InspectKind]: Extract<PanelInspectRequest, { kind: K }> } = {
  score: { kind: 'score' },
  predict: { kind: 'predict' },
  weights: { kind: 'weights' },
  features: { kind: 'features' },
  latent: { kind: 'latent' },
};

/** Asks the host for an inspect job; `onRequested` marks the tab busy at once. */
export type RequestInspect = (request: PanelInspectRequest) => void;

export function makeRequestInspect(onRequested: (kind: InspectKind) => void): RequestInspect {
  return (request) => {
    // The protocol carries requests with their defaults filled in; the views only build valid ones.
    const parsed = PanelInspectRequestSchema.safeParse(request);
    if (!parsed.success) return;
    onRequested(request.kind);
    postToHost({ type: 'inspect', request: parsed.data });
  };
}

export const Spinner = () => <span className="spinner" aria-hidden="true" />;

interface FrameProps {
  readonly kind: InspectKind;
  /** The newest result's facts (split, dataset, when), or null before the first run. */
  readonly result: { readonly at: string; readonly stage: string; readonly backend: string; readonly split?: string; readonly dataset?: string } | null;
  readonly busy: boolean;
  readonly error: string | null;
  /** Why the job cannot run (no run folder yet), or null. */
  readonly disabledReason: string | null;
  /** Run again with the current result's settings. */
  readonly onRun: () => void;
  /** Controls beside "Run again" (a layer picker, paging). */
  readonly tools?: ReactNode;
  readonly children?: ReactNode;
}

/** An inspect tab: heading with what was inspected, Run again, Working…, the error, then the result (or what the job does and a Run button). */
export function InspectFrame({ kind, result, busy, error, disabledReason, onRun, tools, children }: FrameProps) {
  const text = INSPECT_TEXT[kind];
  const facts = result ? [result.split && `${result.split} split`, result.dataset, `stage ${result.stage}`, result.backend, when(result.at)].filter(Boolean).join(' · ') : null;
  return (
    <section className={`inspect ${busy ? 'busy' : ''}`} aria-busy={busy}>
      <div className="inspect-head">
        <div className="inspect-title">
          <h2>{text.title}</h2>
          {facts && <span className="muted">{facts}</span>}
        </div>
        {result && (
          <div className="inspect-tools">
            {tools}
            <button type="button" data-testid={`inspect-run-${kind}`} disabled={busy || disabledReason !== null} title={disabledReason ?? 'Run this again on the run’s newest checkpoint'} onClick={onRun}>
              Run again
            </button>
          </div>
        )}
      </div>
      {busy && (
        <div className="inspect-busy" data-testid={`inspect-busy-${kind}`} role="status">
          <Spinner /> {text.working}
        </div>
      )}
      {error && (
        <div className="inspect-error" data-testid={`inspect-error-${kind}`} role="alert">
          {error}
        </div>
      )}
      {result ? (
        <div className="inspect-body">{children}</div>
      ) : (
        <div className="inspect-empty">
          <p>{text.about}</p>
          <button type="button" className="primary" data-testid={`inspect-run-${kind}`} disabled={busy || disabledReason !== null} title={disabledReason ?? undefined} onClick={onRun}>
            {text.run}
          </button>
          {disabledReason && <p className="muted">{disabledReason}</p>}
        </div>
      )}
    </section>
  );
}

type DataAttributes = { readonly [key: `data-${string}`]: string | number | undefined };

/**
 * A small-pixel picture scaled up by a whole factor (crisp, `image-rendering: pixelated`) to
 * about `target` CSS pixels wide, never wider than its box.
 */
export function PixelImage({ pngBase64, alt, target = 480, maxZoom = 8, testId, data, className = '' }: { pngBase64: string; alt: string; target?: number; maxZoom?: number; testId?: string; data?: DataAttributes; className?: string }) {
  const [natural, setNatural] = useState<{ src: string; w: number } | null>(null);
  const src = `data:image/png;base64,${pngBase64}`;
  const w = natural?.src === src ? natural.w : null;
  const zoom = w ? Math.max(1, Math.min(maxZoom, Math.floor(target / w))) : 1;
  return (
    <img
      className={`pixel ${className}`}
      src={src}
      alt={alt}
      data-testid={testId}
      {...data}
      style={w ? { width: `${w * zoom}px` } : { visibility: 'hidden' }}
      onLoad={(e) => setNatural({ src, w: e.currentTarget.naturalWidth })}
    />
  );
}
