/** Entry of the graph editor webview bundle. */
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ready } from './store';
import { configureL10n } from '../shared/l10n';

configureL10n();

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(<App />);
  ready();
}
