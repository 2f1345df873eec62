/** The anomaly CSV (scores.csv and Export CSV…): columns, positions within the split, names, flags. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ScoreResult, ScoreResultSchema, anomalyCsv, countFlagged } from '../../src/core/inspect';

const result: ScoreResult = ScoreResultSchema.parse({
  kind: 'score', runDir: '/r', stage: 'train', outputId: 'out', backend: 'cpu', at: '2026-01-01T00:00:00.000Z', split: 'test', dataset: 'x',
  metric: 'meanSquaredError',
  // Only the trained classes were scored: positions within the whole split skip the others.
  indices: [40, 12, 7], positions: [0, 3, 8], scores: [0.01, 0.2, 0.05], labels: [0, 1, 0], classNames: ['T-shirt/top', 'Bag, "big"'],
  trainedClasses: [0, 1], threshold: 0.04, thresholdRule: 'given', worst: [], worstPngBase64: '', csvFile: '/r/scores.csv',
});

test('anomalyCsv: one row per score, its position within the split, the class name quoted when needed, flagged above the threshold', () => {
  assert.equal(
    anomalyCsv(result, 0.05),
    ['index,position,label,class,score,flagged', '40,0,0,T-shirt/top,0.01,0', '12,3,1,"Bag, ""big""",0.2,1', '7,8,0,T-shirt/top,0.05,0', ''].join('\n'),
  );
  assert.equal(anomalyCsv(result, 0.01).split('\n').filter((l) => l.endsWith(',1')).length, countFlagged(result.scores, 0.01));
});

test('countFlagged: strictly above the threshold', () => {
  assert.equal(countFlagged([0.1, 0.2, 0.3], 0.2), 1);
  assert.equal(countFlagged([], 0), 0);
});
