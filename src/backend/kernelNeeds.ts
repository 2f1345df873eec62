/** Which tfjs kernels a graph needs to train, so the backend choice can skip backends that lack them. */
import type { GraphAnalysis } from '../core/analyze';
import type { LayerKind } from '../core/layers';
import type { KernelNeed } from './select';

/** Forward and gradient kernels per layer kind (dense layers use kernels every backend has). */
const KERNELS: Partial<Record<LayerKind, readonly string[]>> = {
  conv2d: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
  conv2dTranspose: ['Conv2DBackpropInput', 'Conv2D', 'Conv2DBackpropFilter'],
  maxPooling2d: ['MaxPool', 'MaxPoolGrad'],
  upSampling2d: ['ResizeNearestNeighbor', 'ResizeNearestNeighborGrad'],
};

export function kernelNeeds(analysis: GraphAnalysis): KernelNeed[] {
  const needs: KernelNeed[] = [];
  const seen = new Set<string>();
  for (const node of analysis.nodes.values()) {
    for (const layer of node.layers) {
      for (const kernel of KERNELS[layer.spec.kind] ?? []) {
        if (seen.has(kernel)) continue;
        seen.add(kernel);
        needs.push({ kernel, why: `${layer.className} layer "${layer.name}" needs it to train` });
      }
    }
  }
  return needs;
}
