/**
 * The webviews' strings, translated with VS Code's bundle for the display language: the host puts
 * `vscode.l10n.bundle` (nothing for English) into the page as JSON (src/extension/webviewHtml.ts),
 * and `l10n.t` of @vscode/l10n (imported as `* as l10n`, the form @vscode/l10n-dev finds) looks
 * each string up there, as `vscode.l10n.t` does in the host. `npm run l10n` collects
 * every `l10n.t('…')` of webview/ and `vscode.l10n.t('…')` of src/extension into l10n/bundle.l10n.json,
 * the file translators copy to bundle.l10n.<locale>.json.
 */
import * as l10n from '@vscode/l10n';

/** The element webviewHtml writes the bundle into. */
export const L10N_ELEMENT_ID = 'latent-l10n';

/** Reads the page's bundle once; with none (English, or a test page) `l10n.t` returns its message with the arguments filled in. */
export function configureL10n(doc: Pick<Document, 'getElementById'> | undefined = typeof document === 'undefined' ? undefined : document): void {
  const text = doc?.getElementById(L10N_ELEMENT_ID)?.textContent;
  if (!text) return;
  try {
    const contents: unknown = JSON.parse(text);
    if (typeof contents === 'object' && contents !== null && !Array.isArray(contents)) l10n.config({ contents: contents as Record<string, string> });
  } catch {
    // A page without a readable bundle shows English.
  }
}

