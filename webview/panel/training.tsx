/**
 * The Training tab: run facts, live curves (with other runs overlaid), a classifier's confusion
 * matrix and predictions, the newest test-set evaluation and reconstruction previews.
 */
import type { CSSProperties } from 'react';
import type { Overlay, PanelSnapshot } from '../../src/core/panelProtocol';
import type { ClassifierPreview, Evaluation } from '../../src/core/runFormat';
import { LineChart, SavePictureButton, dashOf } from './charts';
import { fmt, fmtMetric, pct } from './format';
import { pngName } from './inspectData';
import { batchSeries, comparedEpochSeries, confusionView, stageLossSeries } from './state';

/**
 * Rows are true classes, columns predictions. Each cell's background is its share of the row:
 * the diagonal (right answers) in the accent colour, confusions in the error colour, boosted
 * (square root) so that a few percent of mistakes still shows.
 */
function ConfusionMatrix({ preview, testId = 'confusion-matrix' }: { preview: ClassifierPreview; testId?: string }) {
  const v = confusionView(preview.classNames, preview.confusion);
  const n = v.classNames.length;
  if (n === 0) return null;
  return (
    <figure className="confusion" data-testid={testId}>
      <table>
        <thead>
          <tr>
            <th className="corner" colSpan={2} rowSpan={2} />
            <th className="axis-title" colSpan={n}>
              predicted
            </th>
            <th className="recall-head" rowSpan={2} title="Share of each true class predicted right">
              recall
            </th>
          </tr>
          <tr>
            {v.classNames.map((name, c) => (
              <th key={c} className="col-name" title={name}>
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {v.counts.map((row, r) => (
            <tr key={r}>
              {r === 0 && (
                <th className="axis-title vertical" rowSpan={n}>
                  <span>true</span>
                </th>
              )}
              <th className="row-name" title={v.classNames[r]}>
                {v.classNames[r]}
              </th>
              {row.map((value, c) => {
                const share = v.share[r]![c]!;
                const diagonal = r === c;
                const intensity = diagonal ? share : Math.min(1, Math.sqrt(share));
                const classes = ['cell', diagonal ? 'diag' : 'off'];
                if (value === 0) classes.push('zero');
                if (intensity > 0.65) classes.push('strong');
                return (
                  <td
                    key={c}
                    className={classes.join(' ')}
                    data-count={value}
                    style={{ '--v': `${(intensity * 100).toFixed(1)}%` } as CSSProperties}
                    title={`true ${v.classNames[r]}, predicted ${v.classNames[c]}: ${value} (${pct(share)} of true ${v.classNames[r]})`}
                  >
                    {value}
                  </td>
                );
              })}
              <td className="recall" title={`${row[r]!} of ${v.rowTotals[r]!}`}>
                {pct(v.recall[r] ?? null, 0)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <figcaption>
        accuracy <strong>{pct(v.accuracy, 1)}</strong> on {v.total} samples
      </figcaption>
    </figure>
  );
}

/** The preview images in one PNG, drawn crisply, each with its prediction, ✓/✗ and confidence under it. */
function PredictionStrip({ preview, testId = 'prediction-strip', pngFile = 'predictions.png' }: { preview: ClassifierPreview; testId?: string; pngFile?: string }) {
  const n = preview.labels.length;
  if (n === 0 || preview.stripPngBase64 === '') return null;
  const name = (i: number | undefined): string => (i === undefined ? '?' : preview.classNames[i] ?? String(i));
  const wrong = preview.predicted.filter((p, i) => p !== preview.labels[i]).length;
  return (
    <figure className="strip" data-testid={testId}>
      <div className="strip-body">
        <img src={`data:image/png;base64,${preview.stripPngBase64}`} alt={`${n} test images and the class predicted for each`} />
        <ol className="strip-labels" style={{ gridTemplateColumns: `repeat(${n}, minmax(0, 1fr))` }}>
          {preview.labels.map((label, i) => {
            const predicted = preview.predicted[i];
            const ok = predicted === label;
            const confidence = preview.confidence[i];
            return (
              <li
                key={i}
                className={ok ? 'right' : 'wrong'}
                data-testid="prediction"
                data-correct={ok}
                title={`true ${name(label)}, predicted ${name(predicted)} (${pct(confidence ?? null)} confident)`}
              >
                <span className="predicted">
                  {name(predicted)} <span className="mark">{ok ? '✓' : '✗'}</span>
                </span>
                <span className="confidence">{confidence === undefined ? '–' : pct(confidence, 0)}</span>
                {!ok && <span className="truth">true {name(label)}</span>}
              </li>
            );
          })}
        </ol>
      </div>
      <figcaption className="with-tools">
        <span>
          {n - wrong} of {n} right
        </span>
        <SavePictureButton name={pngFile} pngBase64={preview.stripPngBase64} />
      </figcaption>
    </figure>
  );
}

function EvaluationCard({ evaluation: e }: { evaluation: Evaluation }) {
  const when = new Date(e.evaluatedAt);
  return (
    <section className="card evaluation" data-testid="evaluation">
      <div className="card-head">
        <h2>Evaluation on the {e.split} set</h2>
        <span className="muted">
          {e.dataset} · stage {e.stage} · {e.backend}
          {Number.isNaN(when.getTime()) ? '' : ` · ${when.toLocaleString()}`}
        </span>
      </div>
      <dl className="scores">
        <div>
          <dt>samples</dt>
          <dd data-testid="evaluation-samples">{e.samples}</dd>
        </div>
        <div>
          <dt>{e.lossName}</dt>
          <dd data-testid="evaluation-loss">{fmt(e.loss)}</dd>
        </div>
        {Object.entries(e.metrics).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd data-testid={`evaluation-${k}`}>{fmtMetric(k, v)}</dd>
          </div>
        ))}
      </dl>
      {e.classifier && (
        <div className="classifier-views">
          <ConfusionMatrix preview={e.classifier} testId="evaluation-confusion-matrix" />
          <PredictionStrip preview={e.classifier} testId="evaluation-prediction-strip" pngFile={pngName('evaluation', e.split, 'predictions')} />
        </div>
      )}
      {e.reconstructionsPngBase64 && (
        <figure className="preview">
          <img data-testid="evaluation-reconstructions" src={`data:image/png;base64,${e.reconstructionsPngBase64}`} alt={e.reconstructionsCaption ?? `${e.split} images (top) and their reconstructions (bottom)`} />
          <figcaption className="with-tools">
            <span>{e.reconstructionsCaption ? `${e.split} split: ${e.reconstructionsCaption}` : `${e.split} images (top) and reconstructions (bottom)`}</span>
            <SavePictureButton name={pngName('evaluation', e.split, 'reconstructions')} pngBase64={e.reconstructionsPngBase64} />
          </figcaption>
        </figure>
      )}
    </section>
  );
}

function DashSample({ overlay }: { overlay: number }) {
  return (
    <svg className="dash-sample" width="28" height="8" aria-hidden="true">
      <line x1="0" y1="4" x2="28" y2="4" strokeDasharray={dashOf(overlay).join(' ')} />
    </svg>
  );
}

function OverlayLegend({ overlays }: { overlays: readonly Overlay[] }) {
  return (
    <div className="overlay-legend" data-testid="overlay-legend">
      <span className="overlay-item">
        <svg className="dash-sample" width="28" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="28" y2="4" />
        </svg>
        this run
      </span>
      {overlays.map((o, i) => (
        <span key={o.runDir} className="overlay-item" title={o.runDir}>
          <DashSample overlay={i} />
          comparing with <strong>{o.label}</strong>
          <span className="muted"> ({o.epochs.filter((e) => e.epoch > 0).length} epochs)</span>
        </span>
      ))}
    </div>
  );
}


/** Everything the panel showed before it had tabs. */
export function TrainingView({ state }: { state: PanelSnapshot }) {
  const epochs = comparedEpochSeries(state);
  const stageLosses = stageLossSeries(state);
  const batches = batchSeries(state);
  const last = state.epochs.at(-1);
  const trained = state.epochs.filter((e) => e.epoch > 0);
  const classifierStage = state.classifier ? state.run.stages[state.classifier.stageIndex]?.name : undefined;
  return (
    <>
      <dl className="facts">
        <dt>backend</dt>
        <dd>{state.run.backend ? `${state.run.backend.name} (${state.run.backend.detail})` : last?.backend ?? '–'}</dd>
        <dt>data</dt>
        <dd>{state.run.dataset ?? '–'}</dd>
        <dt>epochs</dt>
        <dd data-testid="epochs-done">{trained.length}</dd>
        <dt>speed</dt>
        <dd>{last && last.epoch > 0 ? `${Math.round(last.samplesPerSec).toLocaleString('en-US')} samples/s, ${last.seconds.toFixed(1)} s/epoch` : '–'}</dd>
        <dt>last</dt>
        <dd>
          loss {fmt(last?.loss)} · val_loss {fmt(last?.valLoss)}
          {last ? Object.entries(last.metrics).map(([k, v]) => ` · ${k} ${fmt(v)}`).join('') : ''}
        </dd>
      </dl>
      {state.evaluation && <EvaluationCard evaluation={state.evaluation} />}
      {state.overlays.length > 0 && <OverlayLegend overlays={state.overlays} />}
      <div className="charts">
        {stageLosses.length > 1 ? (
          // Several stages: one chart each, on its own scale, named by its loss (losses of different stages do not compare); compared runs join their stage's chart.
          <div className="stage-losses" data-testid="stage-losses">
            {stageLosses.map((g, i) => (
              <LineChart
                key={`${g.stageIndex}-${g.label}`}
                title={`Loss · ${g.label}`}
                yLabel={g.lossText}
                x={g.x}
                series={g.loss}
                testId={i === 0 ? 'loss-chart' : `loss-chart-${i}`}
                pngFile={`loss-${i + 1}.png`}
              />
            ))}
          </div>
        ) : (
          <LineChart title="Loss per epoch" x={epochs.x} series={epochs.loss} points={epochs.points} testId="loss-chart" pngFile="loss.png" />
        )}
        {batches.x.length > 1 && (
          <LineChart
            title="Batch loss (smoothed)"
            x={batches.x}
            series={[
              { label: 'batch', values: batches.raw },
              { label: 'smoothed', values: batches.smooth },
            ]}
            faint={['batch']}
            testId="batch-chart"
            pngFile="batch-loss.png"
          />
        )}
        {epochs.metrics.length > 0 && <LineChart title="Metrics" x={epochs.x} series={epochs.metrics} points={epochs.points} testId="metrics-chart" pngFile="metrics.png" />}
      </div>
      {state.classifier && (
        <section className="card" data-testid="classifier">
          <div className="card-head">
            <h2>Predictions</h2>
            <span className="muted">
              {classifierStage ? `stage ${classifierStage}, ` : ''}epoch {state.classifier.epoch}
            </span>
          </div>
          <div className="classifier-views">
            <ConfusionMatrix preview={state.classifier.preview} />
            <PredictionStrip preview={state.classifier.preview} pngFile={pngName('predictions', 'epoch', state.classifier.epoch)} />
          </div>
        </section>
      )}
      {state.preview && (
        <section className="card" data-testid="reconstructions">
          <div className="card-head">
            <h2>Reconstructions</h2>
            <span className="muted">epoch {state.preview.epoch}</span>
          </div>
          <figure className="preview">
            <img data-testid="preview" src={`data:image/png;base64,${state.preview.pngBase64}`} alt={`${state.preview.caption ?? 'Test images (top) and their reconstructions (bottom)'} after epoch ${state.preview.epoch}`} />
            <figcaption className="with-tools">
              <span>
                {state.preview.caption ?? 'Test images (top) and reconstructions (bottom)'}, epoch {state.preview.epoch}
              </span>
              <SavePictureButton name={pngName('reconstructions', 'epoch', state.preview.epoch)} pngBase64={state.preview.pngBase64} />
            </figcaption>
          </figure>
        </section>
      )}
    </>
  );
}
