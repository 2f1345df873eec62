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
  type ReactFlowInstance,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
} from '@xyflow/react';
import { type DragEvent, type RefObject, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { GraphAnalysis } from '../../src/core/analyze';
import { canConnect } from '../../src/core/edits';
import { BlockNode, type BlockNodeType } from './BlockNode';
import { drawGraphPng } from './exportImage';
import { blockViews, edgeViews, pngFileName } from './graphView';
import { MINIMAP_MIN_CANVAS } from './layout';
import { BLOCK_MIME } from './Palette';
import { getState, post, select, selectShownStage, sendEdit, sendEdits, setExportImage, setOverlay, showToast, useEditor } from './store';

// Module scope: a new object per render would remount every node (xyflow docs).
const nodeTypes = { block: BlockNode };

/** Wires into or out of a block the shown stage does not run fade with it. */
function useStageFading(edges: Edge[]): Edge[] {
  const roles = useEditor((s) => {
    const i = selectShownStage(s);
    return i === undefined ? undefined : s.stages[i]?.roles;
  });
  return useMemo(
    () =>
      roles
        ? edges.map((e) => (roles.get(e.source) === 'unused' || roles.get(e.target) === 'unused' ? { ...e, className: [e.className, 'stage-unused'].filter(Boolean).join(' ') } : e))
        : edges,
    [edges, roles],
  );
}

/** Export Graph as PNG (toolbar button or the host's command) draws this canvas. */
function useExportImage(rf: ReactFlowInstance<BlockNodeType, Edge>): void {
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
}

/**
 * React Flow's nodes and edges: rebuilt from every new analysis (the document is the truth), moved
 * and selected locally. A block or wire whose view did not change keeps its object, so React Flow
 * (and the memoized BlockNode) redraws only what an edit changed: on a 300-block graph one edit
 * redraws a block or two, not 300 (bench/editor.ts).
 */
function useFlowElements(views: ReturnType<typeof blockViews>, wires: ReturnType<typeof edgeViews>, selection: readonly string[]) {
  const [nodes, setNodes] = useState<BlockNodeType[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  useEffect(() => {
    const selected = new Set(selection);
    setNodes((old) => {
      const before = new Map(old.map((n) => [n.id, n]));
      return views.map((v) => {
        const sig = JSON.stringify(v);
        const was = before.get(v.id);
        const isSelected = selected.has(v.id);
        if (was && was.data.sig === sig && was.selected === isSelected && was.position.x === v.position.x && was.position.y === v.position.y) return was;
        // Its measured size carries over: React Flow measures it again if the new view is larger or smaller.
        return { id: v.id, type: 'block', position: v.position, data: { view: v, sig }, selected: isSelected, ...(was?.measured ? { measured: was.measured } : {}) };
      });
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [views]);
  useEffect(() => {
    setEdges((old) => {
      const before = new Map(old.map((e) => [e.id, e]));
      return wires.map((w) => {
        const was = before.get(w.id);
        const className = w.broken ? 'broken' : undefined;
        if (was && was.source === w.from && was.target === w.to && was.label === w.shape && was.className === className) return was;
        return { id: w.id, source: w.from, target: w.to, label: w.shape, className, selected: was?.selected ?? false, labelBgPadding: [4, 2] as [number, number] };
      });
    });
  }, [wires]);
  // Deletions go through the document (onDelete); apply only local, visual changes here.
  const onNodesChange = useCallback((changes: NodeChange<BlockNodeType>[]) => setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== 'remove'), ns)), []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== 'remove'), es)), []);
  return { nodes, edges, onNodesChange, onEdgesChange };
}

const FIT = { padding: 0.2, maxZoom: 1.2 } as const;

/**
 * Re-fit the graph when the canvas changes size (the training panel opened beside the editor, the
 * window was resized, a side panel docked or collapsed), once the resize settles. A hidden editor
 * (size 0) keeps its viewport. Returns the canvas width, for what depends on it (the MiniMap).
 */
function useRefitOnResize(ref: RefObject<HTMLDivElement | null>, rf: ReactFlowInstance<BlockNodeType, Edge>): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    let last = { w: el.clientWidth, h: el.clientHeight };
    setWidth(last.w);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver(() => {
      const size = { w: el.clientWidth, h: el.clientHeight };
      if (size.w === 0 || size.h === 0 || (size.w === last.w && size.h === last.h)) return;
      last = size;
      setWidth(size.w);
      clearTimeout(timer);
      timer = setTimeout(() => void rf.fitView(FIT), 120);
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      clearTimeout(timer);
    };
  }, [ref, rf]);
  return width;
}

const onConnect = (c: Connection): void => sendEdit({ kind: 'connect', from: c.source, to: c.target });

function onDelete({ nodes: gone, edges: cut }: { nodes: BlockNodeType[]; edges: Edge[] }): void {
  const ids = new Set(gone.map((n) => n.id));
  sendEdits([
    ...(ids.size ? [{ kind: 'removeNodes' as const, ids: [...ids] }] : []),
    ...cut.filter((e) => !ids.has(e.source) && !ids.has(e.target)).map((e) => ({ kind: 'disconnect' as const, from: e.source, to: e.target })),
  ]);
}

function onNodeDragStop(_: unknown, __: unknown, dragged: BlockNodeType[]): void {
  sendEdit({ kind: 'move', positions: Object.fromEntries(dragged.map((n) => [n.id, { x: Math.round(n.position.x), y: Math.round(n.position.y) }])) });
}

const onSelectionChange = ({ nodes: sel }: { nodes: BlockNodeType[] }): void => select(sel.map((n) => n.id));

function onDragOver(e: DragEvent): void {
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
}

export function Canvas({
  doc,
  analysis,
  selection,
  onNodeDoubleClick,
  onPaneClick,
}: {
  doc: Record<string, unknown>;
  analysis: GraphAnalysis;
  selection: readonly string[];
  onNodeDoubleClick?: () => void;
  onPaneClick?: () => void;
}) {
  const views = useMemo(() => blockViews(doc, analysis), [doc, analysis]);
  const wires = useMemo(() => edgeViews(doc, analysis), [doc, analysis]);
  const { nodes, edges, onNodesChange, onEdgesChange } = useFlowElements(views, wires, selection);
  const shownEdges = useStageFading(edges);
  const rf = useReactFlow<BlockNodeType, Edge>();
  useExportImage(rf);
  const ref = useRef<HTMLDivElement>(null);
  const width = useRefitOnResize(ref, rf);

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
  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(BLOCK_MIME);
      if (!type) return;
      e.preventDefault();
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      sendEdit({ kind: 'addNode', type, position: { x: Math.round(p.x), y: Math.round(p.y) } });
      setOverlay(null);
    },
    [rf],
  );

  return (
    <div className="canvas" ref={ref} onDrop={onDrop} onDragOver={onDragOver}>
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
        onSelectionChange={onSelectionChange}
        onNodeDoubleClick={onNodeDoubleClick}
        onPaneClick={onPaneClick}
        deleteKeyCode={['Delete', 'Backspace']}
        fitView
        fitViewOptions={FIT}
        minZoom={0.1}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={24} size={1} />
        <Controls showInteractive={false} />
        {width >= MINIMAP_MIN_CANVAS && <MiniMap pannable zoomable />}
      </ReactFlow>
    </div>
  );
}
