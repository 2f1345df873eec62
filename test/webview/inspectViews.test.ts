import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFlagged } from '../../src/core/inspect';
import { classPalette, hueBetween, parseColour } from '../../webview/panel/colours';
import {
  binOf, classRows, decodeBase64, flaggedSummary, histogram, histogramRange, latentAxisLabels, nearestPoint, niceStep, pagePositions,
  parsePositions, pngName, pointsByClass, rankedProbabilities, roundTo, sampleRgba, scoreGroups, scoreHistogramSummary, latentScatterSummary,
} from '../../webview/panel/inspectData';

/** Two distributions, as an autoencoder trained on some classes scores a test split. */
function twoGroups(n: number): { scores: number[]; labels: number[] } {
  let seed = 1;
  const rand = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const scores = labels.map((l) => (l < 5 ? 0.02 : 0.05) * (0.6 + 0.8 * rand()));
  return { scores, labels };
}

test('histogram counts every finite score once, per group, and flags by the same rule as the CSV', () => {
  const { scores, labels } = twoGroups(1000);
  const range = histogramRange(scores);
  const groups = scoreGroups({ labels, trainedClasses: [0, 1, 2, 3, 4] });
  assert.ok(groups);
  const h = histogram(scores, range, 50, { of: groups.of, count: groups.names.length });
  assert.equal(h.counts.length, 2);
  assert.equal(h.edges.length, 51);
  assert.equal(h.centers.length, 50);
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  assert.equal(sum(h.counts[0]!) + sum(h.counts[1]!), 1000, 'counts sum to N');
  assert.equal(sum(h.counts[0]!), 500, 'the trained classes 0..4');
  assert.equal(h.total, 1000);
  assert.equal(h.edges[0], range[0]);
  assert.ok(Math.abs(h.edges[50]! - range[1]) < 1e-12);
  // The maximum falls in the last bin, not past it.
  assert.equal(binOf(range[1], range[0], h.width, 50), 49);
  assert.equal(binOf(range[0] - 1, range[0], h.width, 50), 0);
  // Flagged = strictly above the threshold, whole and per group.
  const threshold = 0.03;
  const flagged = scores.filter((s) => s > threshold).length;
  assert.equal(countFlagged(scores, threshold), flagged);
  assert.equal(countFlagged([1, 2, 3], 2), 1, 'a score equal to the threshold is not flagged');
  const summary = flaggedSummary(scores, threshold, groups);
  assert.equal(summary.total, 1000);
  assert.equal(summary.flagged, flagged);
  assert.deepEqual(summary.groups.map((g) => g.total), [500, 500]);
  assert.equal(summary.groups[0]!.flagged + summary.groups[1]!.flagged, flagged);
  assert.ok(summary.groups[1]!.flagged > summary.groups[0]!.flagged, 'held-out classes score higher');
  // One group without labels or without a partial class list.
  assert.equal(scoreGroups({ labels, trainedClasses: null }), null);
  assert.equal(scoreGroups({ trainedClasses: [0] }), null);
  assert.deepEqual(flaggedSummary(scores, threshold, null).groups, []);
  assert.deepEqual(histogram([], [0, 1], 4).counts, [[0, 0, 0, 0]]);
  assert.equal(histogram([0.5, NaN, Infinity], [0, 1], 4).total, 1, 'non-finite scores are left out');
});

test('the histogram range leaves out a far outlier and counts it in the last bar', () => {
  const { scores } = twoGroups(1000);
  const withOutlier = [...scores, 5];
  const [lo, hi] = histogramRange(withOutlier);
  assert.ok(hi < 1, `an outlier at 5 does not stretch the axis (hi ${hi})`);
  assert.equal(lo, Math.min(...scores));
  const h = histogram(withOutlier, [lo, hi], 50);
  assert.equal(h.above, 1);
  assert.equal(h.counts[0]!.reduce((a, b) => a + b, 0), 1001);
  assert.equal(h.counts[0]![49]! >= 1, true);
  // Without outliers the range is min..max; all equal scores get a range around them.
  assert.deepEqual(histogramRange([1, 2, 3]), [1, 3]);
  assert.deepEqual(histogramRange([2, 2]), [1, 3]);
  assert.deepEqual(histogramRange([]), [0, 1]);
});

test('per-class rows: samples, mean score, flagged, trained or held out', () => {
  const rows = classRows({ scores: [1, 3, 10, 20, 30], labels: [0, 0, 1, 1, 1], classNames: ['cat', 'dog'], trainedClasses: [0] }, 15);
  assert.deepEqual(rows, [
    { label: 0, name: 'cat', trained: true, samples: 2, meanScore: 2, flagged: 0 },
    { label: 1, name: 'dog', trained: false, samples: 3, meanScore: 20, flagged: 2 },
  ]);
  assert.equal(classRows({ scores: [1], labels: [3], trainedClasses: null }, 0)[0]!.trained, null);
  assert.deepEqual(classRows({ scores: [1], trainedClasses: null }, 0), []);
});

test('threshold steps and rounding stay readable', () => {
  assert.equal(niceStep(0, 0.1), 0.0001);
  assert.equal(niceStep(0, 250), 0.1);
  assert.equal(roundTo(0.123456, 0.0001), 0.1235);
  assert.equal(roundTo(0.1 + 0.2, 0.1), 0.3);
});

test('the nearest point is found in pixels, within reach', () => {
  // x spans 0..10 over 100 px, y spans 0..1 over 100 px (y grows upwards).
  const frame = { width: 100, height: 100, xMin: 0, xMax: 10, yMin: 0, yMax: 1 };
  const x = [1, 5, 9];
  const y = [0.9, 0.5, 0.1];
  assert.equal(nearestPoint(x, y, frame, 50, 50), 1, 'the middle point sits in the middle');
  assert.equal(nearestPoint(x, y, frame, 12, 8), 0, 'top left');
  assert.equal(nearestPoint(x, y, frame, 88, 92), 2, 'bottom right');
  assert.equal(nearestPoint(x, y, frame, 30, 30), null, 'nothing within 10 px');
  assert.equal(nearestPoint(x, y, frame, 30, 30, 40), 1, 'a wider reach');
  // Distances are compared in pixels, not data units: 0.05 in y is 5 px, 0.5 in x is 5 px.
  assert.equal(nearestPoint([0, 0.6], [0.05, 0], frame, 0, 100, 20), 0);
  assert.equal(nearestPoint([NaN], [0], frame, 0, 100), null, 'hidden (NaN) points are never hit');
  assert.equal(nearestPoint([], [], frame, 0, 0), null);
});

test('a latent point\'s pixels become RGBA: grey from one channel, RGB from three', () => {
  // Two 1×2 grey images back to back.
  const grey = new Uint8Array([10, 20, 30, 40]);
  assert.deepEqual([...sampleRgba(grey, 1, [1, 2, 1])!], [30, 30, 30, 255, 40, 40, 40, 255]);
  assert.deepEqual([...sampleRgba(grey, 0, [2, 1, 1])!], [10, 10, 10, 255, 20, 20, 20, 255]);
  assert.equal(sampleRgba(grey, 2, [1, 2, 1]), null, 'past the end');
  assert.equal(sampleRgba(grey, -1, [1, 2, 1]), null);
  // One 1×2 RGB image after another.
  const rgb = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...sampleRgba(rgb, 1, [1, 2, 3])!], [7, 8, 9, 255, 10, 11, 12, 255]);
  // Base64 round trip, as the worker sends the buffers.
  const bytes = new Uint8Array([0, 127, 128, 255, 1]);
  assert.deepEqual([...decodeBase64(Buffer.from(bytes).toString('base64'))], [...bytes]);
});

test('latent points are grouped by class for one series each; axes are named by projection', () => {
  const g = pointsByClass({ x: [1, 2, 3, 4], y: [5, 6, 7, 8], labels: [1, 0, 1, 2], classNames: ['zero', 'one', 'two'] });
  assert.deepEqual(g.map((s) => [s.name, s.indices]), [['zero', [1]], ['one', [0, 2]], ['two', [3]]]);
  assert.deepEqual(g[1]!.x, [1, 3]);
  const unlabelled = pointsByClass({ x: [1, 2], y: [3, 4] });
  assert.equal(unlabelled.length, 1);
  assert.equal(unlabelled[0]!.label, null);
  assert.deepEqual(latentAxisLabels({ projection: 'code' }), ['z[0]', 'z[1]']);
  assert.deepEqual(latentAxisLabels({ projection: 'pca', explained: [0.4123, 0.2] }), ['PC1 (41.2% of variance)', 'PC2 (20.0% of variance)']);
});

test('typed positions and paging for predictions', () => {
  assert.deepEqual(parsePositions('7'), { positions: [7] });
  assert.deepEqual(parsePositions(' 3, 10-12 3 '), { positions: [3, 10, 11, 12] });
  assert.ok('error' in parsePositions(''));
  assert.ok('error' in parsePositions('seven'));
  assert.ok('error' in parsePositions('12-10'));
  assert.ok('error' in parsePositions('0-500'), 'at most 200');
  assert.deepEqual(pagePositions([{ position: 0 }, { position: 23 }], 3), [24, 25, 26]);
  assert.deepEqual(pagePositions([{ position: 30 }, { position: 40 }], 24, -1), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  assert.deepEqual(pagePositions([{ position: 0 }], 24, -1), [], 'no page before the first image');
  assert.deepEqual(pagePositions([], 2), [0, 1]);
  const ranked = rankedProbabilities({ probabilities: [0.1, 0.7, 0.2], predicted: 1 }, ['a', 'b', 'c']);
  assert.deepEqual(ranked.map((r) => [r.name, r.predicted]), [['b', true], ['c', false], ['a', false]]);
});

test('saved pictures get names the host accepts', () => {
  const ok = /^[\w.-]{1,100}\.png$/;
  for (const name of [pngName('weights', 'encoder.0'), pngName('features', 'conv/1 (a)', 5), pngName(''), pngName('x'.repeat(300)), pngName('loss.png')]) assert.match(name, ok, name);
  assert.equal(pngName('weights', 'encoder.0'), 'weights-encoder.0.png');
  assert.equal(pngName('features', 'conv/1 (a)', 5), 'features-conv-1-a-5.png');
  assert.equal(pngName(''), 'picture.png');
  assert.equal(pngName('loss.png'), 'loss.png');
});

test('class colours: the theme\'s chart colours first, then distinct ones between them', () => {
  assert.deepEqual(parseColour('#3794ff'), { r: 0x37, g: 0x94, b: 0xff, a: 1 });
  assert.deepEqual(parseColour('#fff'), { r: 255, g: 255, b: 255, a: 1 });
  assert.deepEqual(parseColour('rgba(1, 2, 3, 0.5)'), { r: 1, g: 2, b: 3, a: 0.5 });
  assert.equal(parseColour('papayawhip'), null);
  const c = (hex: string) => parseColour(hex)!;
  const theme = { blue: c('#3794ff'), orange: c('#d18616'), green: c('#89d185'), red: c('#f14c4c'), purple: c('#b180d7'), yellow: c('#cca700'), foreground: c('#cccccc'), background: c('#1f1f1f') };
  const p = classPalette(12, theme);
  assert.equal(p.length, 12);
  assert.deepEqual(p[0], theme.blue);
  const key = (x: { r: number; g: number; b: number }): string => [x.r, x.g, x.b].map(Math.round).join(',');
  assert.equal(new Set(p.map(key)).size, 12, 'no two classes share a colour');
  // Between red and purple on the wheel the shorter way: a magenta, neither of them.
  const m = hueBetween(theme.purple, theme.red);
  assert.ok(m.r > m.g && m.b > m.g);
});

test('the anomaly histogram in words: range, median, what the threshold flags, per group', () => {
  const scores = [0.01, 0.02, 0.03, 0.04, 0.5, 0.6];
  const groups = { names: ['trained classes', 'held-out classes'], of: [0, 0, 0, 0, 1, 1] };
  assert.equal(
    scoreHistogramSummary('Reconstruction error per image', scores, 0.035, groups),
    'Reconstruction error per image: 6 images from 0.01 to 0.6, median 0.035, 3 flagged by the threshold 0.035; ' +
      'trained classes: 4 images from 0.01 to 0.04, median 0.025, 1 flagged; held-out classes: 2 images from 0.5 to 0.6, median 0.55, 2 flagged.',
  );
  // Moving the threshold changes the sentence; no groups: one part.
  assert.equal(scoreHistogramSummary('E', scores, 0.7, null), 'E: 6 images from 0.01 to 0.6, median 0.035, 0 flagged by the threshold 0.7.');
  assert.equal(scoreHistogramSummary('E', [], 0.1, null), 'E: no scores by the threshold 0.1.');
});

test('a latent scatter in words: axes, points and where each class centres', () => {
  const groups = pointsByClass({ x: [0, 2, 10, 12], y: [1, 3, -1, -3], labels: [0, 0, 1, 1], classNames: ['zero', 'one'] });
  assert.equal(
    latentScatterSummary('Latent space (2-number code)', ['z[0]', 'z[1]'], groups),
    'Latent space (2-number code), z[0] across, z[1] up: 4 points; zero: 2 centred at (1, 2); one: 2 centred at (11, -2).',
  );
  const unlabelled = pointsByClass({ x: [1, 3], y: [2, 2] });
  assert.equal(latentScatterSummary('L', ['PC1', 'PC2'], unlabelled), 'L, PC1 across, PC2 up: 2 points centred at (2, 2).');
  const many = Array.from({ length: 23 }, (_, i) => ({ name: `c${i}`, x: [i], y: [0] }));
  assert.match(latentScatterSummary('L', ['a', 'b'], many), /c19: 1 centred at \(19, 0\); 3 more classes\.$/);
});
