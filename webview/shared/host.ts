/**
 * The one way a webview app talks to VS Code (both apps use it): `acquireVsCodeApi` is called once
 * here, every message from the host is validated with the boundary's schema before the app sees it,
 * a message that does not validate is logged and reported back to the host (which logs it in its
 * output channel), and every message the app posts is numbered so the host can answer it by id.
 */
import type { z } from 'zod';
import { RequestIds, createReceiver } from '../../src/core/messages';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const ids = new RequestIds();

/** What a webview app posts: its boundary's messages; `rejected` is posted by this module itself. */
type Outgoing = { readonly type: string };

export interface HostConnection<Out extends Outgoing> {
  /** Post a message to the host; returns the id it was sent with. */
  post(message: Exclude<Out, { type: 'rejected' }>): number;
  /** The state VS Code keeps for this webview across reloads (unvalidated: the app checks what it reads). */
  getState(): unknown;
  setState(state: unknown): void;
}

/**
 * Listen to the host: `onMessage` gets every message `schema` accepts, with the time it arrived;
 * the rest are logged and answered with `rejected`. Call once per app, at start.
 */
export function connectToHost<Out extends Outgoing, S extends z.ZodType>(schema: S, onMessage: (message: z.output<S>, receivedAt: number) => void): HostConnection<Out> {
  const receive = createReceiver(schema, {
    from: 'host',
    log: (line) => console.warn(`Latent Studio: ${line}`),
    reject: (r) => vscode.postMessage({ type: 'rejected', error: r.error }),
  });
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const receivedAt = Date.now();
    const message = receive(event.data);
    if (message !== undefined) onMessage(message, receivedAt);
  });
  return {
    post: (message) => {
      const id = ids.next();
      vscode.postMessage({ ...message, id });
      return id;
    },
    getState: () => vscode.getState(),
    setState: (state) => vscode.setState(state),
  };
}
