/** The React Flow canvas: blocks, wires with tensor shapes, drag & drop, connect, delete, select. */
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  type EdgeChange,
  type FinalConnectionState,
  MiniMap,
  type NodeChange,
  ReactFlow,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
} from '@xyflow/react';
import { type DragEvent, useCallback, useEffect, useMemo, useState } from 'react';
import type { GraphAnalysis } from '../../src/core/analyze';
import { canConnect } from '../../src/core/edits';
import { BlockNode, type BlockNodeType } from './BlockNode';
import { drawGraphPng } from './exportImage';
import { blockViews, edgeViews, pngFileName } from './graphView';
import { BLOCK_MIME } from './Palette';
import { getState, post, select, selectShownStage, sendEdit, sendEdits, setExportImage, showToast, useEditor } from './store';

// Module scope: a new object per render would remount every node (xyflow docs).
const nodeTypes = { block: BlockNode };

export function Canvas({ doc, analysis, selection }: { doc: Record<string, unknown>; analysis: GraphAnalysis; selection: readonly string[] }) {
  const views = useMemo(() => blockViews(doc, analysis), [doc, analysis]);
  const wires = useMemo(() => edgeViews(doc, analysis), [doc, analysis]);
  const [nodes, setNodes] = useState<BlockNodeType[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const rf = useReactFlow<BlockNodeType, Edge>();
  const roles = useEditor((s) => {
    const i = selectShownStage(s);
    return i === undefined ? undefined : s.stages[i]?.roles;
  });
  // Wires into or out of a block the shown stage does not run fade with it.
  const shownEdges = useMemo(
    () =>
      roles
        ? edges.map((e) =>
            roles.get(e.source) === 'unused' || roles.get(e.target) === 'unused' ? { ...e, className: [e.className, 'stage-unused'].filter(Boolean).join(' ') } : e,
          )
        : edges,
    [edges, roles],
  );

  // Export Graph as PNG (toolbar button or the host's command) draws this canvas.
  useEffect(() => {
    setExportImage(async () => {
      const viewport = document.querySelector<HTMLElement>('.react-flow__viewport');
      if (!viewport) throw new Error('the canvas is not shown');
      const background = getComputedStyle(document.body).backgroundColor || 'white';
      const pngBase64 = await drawGraphPng(rf, viewport, background);
      const s = getState();
      const graphName = s.document.kind === 'graph' ? s.document.value.name : undefined;
      post({ type: 'savePng', name: pngFileName(s.fileName, graphName), pngBase64 });
    });
    return () => setExportImage(undefined);
  }, [rf]);

  // The document is the truth: every new analysis rebuilds the canvas, keeping the selection.
  useEffect(() => {
    const selected = new Set(selection);
    setNodes(views.map((v) => ({ id: v.id, type: 'block', position: v.position, data: { view: v }, selected: selected.has(v.id) })));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [views]);
  useEffect(() => {
    setEdges((old) => {
      const selected = new Set(old.filter((e) => e.selected).map((e) => e.id));
      return wires.map((w) => ({
        id: w.id,
        source: w.from,
        target: w.to,
        label: w.shape,
        className: w.broken ? 'broken' : undefined,
        selected: selected.has(w.id),
        labelBgPadding: [4, 2] as [number, number],
      }));
    });
  }, [wires]);

  const onNodesChange = useCallback((changes: NodeChange<BlockNodeType>[]) => {
    // Deletions go through the document (onDelete); apply only local, visual changes here.
    setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== 'remove'), ns));
  }, []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== 'remove'), es)), []);

  const onConnect = useCallback((c: Connection) => sendEdit({ kind: 'connect', from: c.source, to: c.target }), []);
  const isValidConnection = useCallback((c: Connection | Edge) => canConnect(doc, c.source, c.target).ok, [doc]);
  const onConnectEnd = useCallback(
    (_: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (state.isValid || !state.fromNode || !state.toNode) return;
      const forward = state.fromHandle?.type !== 'target';
      const [from, to] = forward ? [state.fromNode.id, state.toNode.id] : [state.toNode.id, state.fromNode.id];
      const verdict = canConnect(doc, from, to);
      if (!verdict.ok) showToast(verdict.reason);
    },
    [doc],
  );

  const onDelete = useCallback(({ nodes: gone, edges: cut }: { nodes: BlockNodeType[]; edges: Edge[] }) => {
    const ids = new Set(gone.map((n) => n.id));
    sendEdits([
      ...(ids.size ? [{ kind: 'removeNodes' as const, ids: [...ids] }] : []),
      ...cut.filter((e) => !ids.has(e.source) && !ids.has(e.target)).map((e) => ({ kind: 'disconnect' as const, from: e.source, to: e.target })),
    ]);
  }, []);

  const onNodeDragStop = useCallback((_: unknown, __: unknown, dragged: BlockNodeType[]) => {
    sendEdit({ kind: 'move', positions: Object.fromEntries(dragged.map((n) => [n.id, { x: Math.round(n.position.x), y: Math.round(n.position.y) }])) });
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(BLOCK_MIME);
      if (!type) return;
      e.preventDefault();
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      sendEdit({ kind: 'addNode', type, position: { x: Math.round(p.x), y: Math.round(p.y) } });
    },
    [rf],
  );

  return (
    <div className="canvas" onDrop={onDrop} onDragOver={(e) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }}>
      <ReactFlow<BlockNodeType, Edge>
        nodes={nodes}
        edges={shownEdges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        onDelete={onDelete}
        onNodeDragStop={onNodeDragStop}
        onSelectionChange={({ nodes: sel }) => select(sel.map((n) => n.id))}
        deleteKeyCode={['Delete', 'Backspace']}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
        minZoom={0.1}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={24} size={1} />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable />
      </ReactFlow>
    </div>
  );
}
