/** HTML shell for our webviews: CSP with a nonce, scripts and styles only from dist/webview. */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** A fresh script nonce per page: 128 bits from the OS's CSPRNG (CSP allows base64url). */
export function nonce(): string {
  return randomBytes(16).toString('base64url');
}

/** The display language's translations of the webviews' strings, as JSON safe inside a <script> element (nothing for English). */
export function l10nBundleJson(bundle: { [key: string]: string } | undefined = vscode.l10n.bundle): string {
  return JSON.stringify(bundle ?? {}).replace(/</g, '\\u003c');
}

export function webviewHtml(webview: vscode.Webview, root: vscode.Uri, opts: { title: string; script: string; styles: readonly string[] }): string {
  const n = nonce();
  const asset = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(root, file)).toString();
  // React Flow and uPlot position things with inline style attributes, hence 'unsafe-inline' for styles only.
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'unsafe-inline'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="${vscode.env.language.replace(/[^\w-]/g, '')}">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
${opts.styles.map((s) => `  <link rel="stylesheet" href="${asset(s)}">`).join('\n')}
  <title>${opts.title}</title>
</head>
<body>
  <script type="application/json" id="latent-l10n">${l10nBundleJson()}</script>
  <div id="root"></div>
  <script nonce="${n}" src="${asset(opts.script)}"></script>
</body>
</html>`;
}
