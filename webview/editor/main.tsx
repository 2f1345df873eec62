/** Entry of the graph editor webview bundle. */
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ready } from './store';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(<App />);
  ready();
}
