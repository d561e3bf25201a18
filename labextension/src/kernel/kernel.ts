// Kernel bridge: %%assist widgets write cells (bridge.ts); kernel variables are cached
// for requests (variables.ts). Wired on every kernel of every notebook.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';

import type { Kernel } from '@jupyterlab/services';

import { watchAcceptClicks } from './acceptClicks';
import { connectBridge } from './bridge';
import { refreshVariables, watchVariables } from './variables';

function watchPanel(panel: NotebookPanel): void {
  const ctx = panel.sessionContext;
  // A new kernel connection (start, change): the comm target lives on the connection,
  // which survives restarts; after one, `%load_ext` opens a new comm to it.
  const attach = (kernel: Kernel.IKernelConnection | null | undefined): void => {
    if (kernel && !panel.isDisposed) {
      connectBridge(kernel, panel);
    }
  };
  // The signal's newValue: ctx.session may not point at the new kernel yet when it fires.
  ctx.kernelChanged.connect((_, change) => attach(change.newValue));
  attach(ctx.session?.kernel);
  watchVariables(panel);
  ctx.ready.then(() => refreshVariables(panel)).catch(() => undefined);
}

export const kernelBridgePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:kernel-bridge',
  description: 'Kernel bridge: %%assist widgets write cells; variables for requests.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    watchAcceptClicks(tracker); // bridge writes need the user's Accept click
    tracker.forEach(watchPanel);
    tracker.widgetAdded.connect((_, panel) => watchPanel(panel));
    NotebookActions.executed.connect((_, { notebook }) => {
      const panel = tracker.find(p => p.content === notebook);
      if (panel) {
        refreshVariables(panel);
      }
    });
  }
};
