/**
 * The inspect jobs (src/core/inspect.ts): one entry point, dispatched on the request's kind. Each
 * job opens the run through openRun.ts (graph snapshot, checkpoint, dataset and split as trained)
 * and writes its files into the run folder.
 */
import type { InspectResult, ResolvedInspectRequest } from '../../../core/inspect';
import type { FromWorker } from '../../../core/protocol';
import { runFeatures } from './features';
import { runLatent } from './latent';
import { runPredict } from './predict';
import { runScore } from './score';
import { runWeights } from './weights';

export { runFeatures, runLatent, runPredict, runScore, runWeights };

type Send = (message: FromWorker) => void;

export async function runInspect(request: ResolvedInspectRequest, send: Send = () => undefined): Promise<InspectResult> {
  switch (request.kind) {
    case 'score':
      return runScore(request, send);
    case 'predict':
      return runPredict(request, send);
    case 'weights':
      return runWeights(request, send);
    case 'features':
      return runFeatures(request, send);
    case 'latent':
      return runLatent(request, send);
  }
}
