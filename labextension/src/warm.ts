// Cache warming: when a cell gains focus, ask the server to prefill the
// completion context (the other cells) so that the first keystroke's request
// only has the last few tokens left to process.
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { requestAPI } from './api';
import { collectNotebook } from './context';

// Focus moves quickly while the user navigates; warm the cell they settle on.
const SETTLE_MS = 400;

export function installWarmer(tracker: INotebookTracker): void {
  let timer: number | undefined;
  let inflight: AbortController | null = null;

  const warm = (panel: NotebookPanel): void => {
    const context = collectNotebook(panel);
    if (context.cell_index === null || context.cell_index === undefined) {
      return;
    }
    inflight?.abort();
    inflight = new AbortController();
    const body = { ...context, request_id: 'warm', prefix: '', suffix: '' };
    requestAPI('warm', {
      method: 'POST',
      body: JSON.stringify(body),
      signal: inflight.signal
    }).catch((reason: unknown) => {
      // Warming is an optimisation: a loading model or an abort is fine.
      if (!(reason instanceof DOMException && reason.name === 'AbortError')) {
        console.debug('jupyter-assist: warm skipped', reason);
      }
    });
  };

  tracker.activeCellChanged.connect(() => {
    const panel = tracker.currentWidget;
    window.clearTimeout(timer);
    if (!panel || panel.isDisposed) {
      return;
    }
    timer = window.setTimeout(() => warm(panel), SETTLE_MS);
  });
}
