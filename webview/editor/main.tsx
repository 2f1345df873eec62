/**
 * Placeholder for the graph editor webview (React + @xyflow/react arrive with the visual editor
 * issue). The bundle exists now so the build and packaging pipeline is complete.
 */
const root = document.getElementById('root');
if (root) root.textContent = 'Latent Studio graph editor';
export {};
