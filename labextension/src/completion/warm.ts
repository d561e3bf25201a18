// Cache warming: when a cell gains focus, ask the server to prefill the
// completion context (the other cells) so that the first keystroke's request
// only has the last few tokens left to process. While an edit instruction is
// typed, the same for the cell's edit prompt (the instruction comes last).
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { requestAPI } from '../shared/api';
import { collectNotebook } from '../shared/context';
import { assistSettings } from '../shared/settings';
import type { IWarmRequest } from '../shared/types';

// Focus moves quickly while the user navigates; warm the cell they settle on.
const SETTLE_MS = 400;

/** POST warm; warming is an optimisation: a loading model or an abort is fine. */
function postWarm(body: IWarmRequest, signal?: AbortSignal): void {
  if (!assistSettings.current.warm.enabled) {
    return; // turned off on the Jupyter Assist settings page
  }
  requestAPI('warm', {
    method: 'POST',
    body: JSON.stringify(body),
    signal
  }).catch((reason: unknown) => {
    if (!(reason instanceof DOMException && reason.name === 'AbortError')) {
      console.debug('jupyter-assist: warm skipped', reason);
    }
  });
}

/** Prefill the edit prompt of cell `index` before its instruction is sent. */
export function warmEdit(panel: NotebookPanel, index: number): void {
  postWarm({
    ...collectNotebook(panel),
    request_id: 'warm-edit',
    task: 'edit',
    cell_index: index
  });
}

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
    postWarm(body, inflight.signal);
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
