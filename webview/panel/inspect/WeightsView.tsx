/** The Weights tab: one layer's weights as a grid of pictures, one per unit, and a picker for another layer. */
import type { WeightsResult } from '../../../src/core/inspect';
import { SavePictureButton } from '../charts';
import { pngName } from '../inspectData';
import { PixelImage, type RequestInspect } from './common';

export function WeightsView({ result, request, busy }: { result: WeightsResult; request: RequestInspect; busy: boolean }) {
  const unit = result.layerKind === 'conv' ? 'filters' : 'units';
  const [h, w] = result.tile;
  return (
    <div className="weights">
      <div className="toolbar-row">
        <label className="field">
          <span>Layer</span>
          <select data-testid="weights-layer" value={result.layer} disabled={busy} onChange={(e) => request({ kind: 'weights', layer: e.currentTarget.value })}>
            {(result.layers.includes(result.layer) ? result.layers : [result.layer, ...result.layers]).map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
      </div>
      <figure className="picture">
        <PixelImage
          pngBase64={result.pngBase64}
          alt={`Weights of layer ${result.layer}: ${result.shown} ${unit} as ${h}×${w} pictures`}
          target={720}
          testId="weights-image"
          data={{ 'data-units': result.units, 'data-shown': result.shown, 'data-layer': result.layer }}
        />
        <figcaption className="with-tools">
          <span>
            <strong>{result.layer}</strong> ({result.layerKind === 'conv' ? 'Conv2D' : 'Dense'}) · {result.shown === result.units ? `all ${result.units} ${unit}` : `${result.shown} of ${result.units} ${unit}`} · each tile {h}×{w}
            {result.layerKind === 'conv' ? ' (the kernel)' : ' (one weight per input pixel)'}, scaled to its own min..max: dark is negative, light is positive
          </span>
          <SavePictureButton name={pngName('weights', result.layer)} pngBase64={result.pngBase64} />
        </figcaption>
      </figure>
    </div>
  );
}
