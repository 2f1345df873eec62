/** Export Graph as PNG: the whole graph drawn at 2x, as React Flow's "download image" example does it. */
import { type Node, type ReactFlowInstance, getViewportForBounds } from '@xyflow/react';
import { toPng } from 'html-to-image';

/** Room around the blocks for the handles and the stage badges that stick out of them. */
const PADDING = 32;

/**
 * The PNG (base64, no data: prefix) of every block and wire with their shapes and badges, on the
 * theme's editor background; the minimap, controls and dotted background are outside the viewport
 * element and stay out.
 */
export async function drawGraphPng<N extends Node>(rf: Pick<ReactFlowInstance<N>, 'getNodes' | 'getNodesBounds'>, viewport: HTMLElement, background: string): Promise<string> {
  // Right after the canvas mounts, React Flow has not measured the blocks yet: wait for it (2 s at most).
  for (let i = 0; i < 40 && !rf.getNodes().every((n) => n.measured?.width && n.measured.height); i++) await new Promise((r) => setTimeout(r, 50));
  const nodes = rf.getNodes();
  if (nodes.length === 0) throw new Error('the graph has no blocks');
  const bounds = rf.getNodesBounds(nodes);
  const width = Math.ceil(bounds.width + 2 * PADDING);
  const height = Math.ceil(bounds.height + 2 * PADDING);
  // Zoom 1 (min = max): the picture keeps the canvas' own sizes; the 2x comes from pixelRatio.
  const { x, y, zoom } = getViewportForBounds(bounds, width, height, 1, 1, 0);
  const url = await toPng(viewport, {
    backgroundColor: background,
    width,
    height,
    pixelRatio: 2,
    // System fonts only; reading the webview's stylesheets for @font-face would only fail under its CSP.
    skipFonts: true,
    style: { width: `${width}px`, height: `${height}px`, transform: `translate(${x}px, ${y}px) scale(${zoom})` },
  });
  const comma = url.indexOf(',');
  if (!url.startsWith('data:image/png;base64,') || comma < 0 || url.length - comma < 100) throw new Error('the browser produced no PNG');
  return url.slice(comma + 1);
}
