/**
 * The store both webview apps keep their state in: one value, replaced (never mutated) by the app's
 * reducer or patches, read by components through `useStore(selector)` so they stay thin.
 */
import { useSyncExternalStore } from 'react';

export interface Store<S> {
  get(): S;
  /** Replace the state (a patch is merged into it); listeners run only when something changed. */
  set(next: S | ((s: S) => S)): void;
  subscribe(listener: () => void): () => void;
  /** In a component: the selected part of the state, re-rendering when it changes. */
  use<T>(selector: (s: S) => T): T;
}

export function createStore<S>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<() => void>();
  const subscribe = (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  return {
    get: () => state,
    set: (next) => {
      const value = typeof next === 'function' ? (next as (s: S) => S)(state) : next;
      if (value === state) return;
      state = value;
      for (const l of listeners) l();
    },
    subscribe,
    // A hook by naming convention only: components call it, and it calls useSyncExternalStore.
    use: (selector) => useSyncExternalStore(subscribe, () => selector(state)),
  };
}
