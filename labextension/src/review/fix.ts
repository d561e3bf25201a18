// A "Fix with Assistant" button under the outputs of a code cell that raised:
// it asks the server's `fix` route and reviews the proposal as a diff in the cell.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { collectNotebook } from '../shared/context';
import { assistSettings, tokenLimit } from '../shared/settings';
import { streamProposals } from './proposals';
import { refineProposal, sampling } from './regenerate';
import { focusReview, openReview } from './review';

const BAR_CLASS = 'jp-assist-fix';
const LABEL_CHARS = 80;

/** "KeyError: 'x'" for the cell's first error output, or null when it has none. */
function errorSummary(cell: CodeCell): string | null {
  const outputs = cell.model.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const output = outputs.get(i);
    if (output.type === 'error') {
      const json = output.toJSON() as { ename?: unknown; evalue?: unknown };
      const text = `${String(json.ename ?? 'Error')}: ${String(json.evalue ?? '')}`;
      return text.length > LABEL_CHARS ? text.slice(0, LABEL_CHARS - 1) + '…' : text;
    }
  }
  return null;
}

async function fixCell(panel: NotebookPanel, cell: CodeCell): Promise<void> {
  if (focusReview(cell)) {
    return;
  }
  const summary = errorSummary(cell);
  const index = panel.content.widgets.indexOf(cell);
  if (summary === null || index < 0) {
    return; // the error went away (re-run, cleared) or the cell was moved out
  }
  // The source sent is the review's original: both read now, in one tick.
  const source = cell.model.sharedModel.getSource();
  const context = collectNotebook(panel);
  const body = {
    ...context,
    cells: context.cells ?? [],
    cell_index: index,
    ...tokenLimit(assistSettings.current.fix.maxTokens)
  };
  const stream = streamProposals({ route: 'fix', body }, source);
  await openReview({
    cell,
    label: `Fix: ${summary}`,
    task: 'fix',
    ...stream,
    regenerate: () => streamProposals({ route: 'fix', body: { ...body, ...sampling() } }, source),
    refine: (current, followUp, sampled) => refineProposal(panel, cell, source, current, followUp, sampled)
  });
}

/** Show the button while the cell has an error output, remove it otherwise. */
function updateButton(panel: NotebookPanel, cell: CodeCell): void {
  const host = cell.outputArea.node;
  const existing = host.querySelector(`:scope > .${BAR_CLASS}`);
  const summary = cell.isDisposed ? null : errorSummary(cell);
  if (summary === null) {
    existing?.remove();
    return;
  }
  if (existing) {
    host.appendChild(existing); // stay below outputs added since
    return;
  }
  const bar = document.createElement('div');
  bar.className = BAR_CLASS;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'jp-assist-fix-button';
  button.textContent = 'Fix with Assistant';
  button.title = 'Propose a fix for this error as a diff in the cell (nothing runs)';
  button.addEventListener('click', () => {
    fixCell(panel, cell).catch(error => console.error('jupyter-assist: fix failed', error));
  });
  bar.appendChild(button);
  // Last child of the output area: Lumino inserts new outputs before it.
  host.appendChild(bar);
}

function watchNotebook(panel: NotebookPanel): void {
  const watched = new WeakSet<CodeCell>();
  const sync = (): void => {
    for (const cell of panel.content.widgets) {
      if (!(cell instanceof CodeCell) || watched.has(cell)) {
        continue;
      }
      watched.add(cell);
      // Connected after the output area's own handler: its widgets exist by now.
      cell.model.outputs.changed.connect(() => updateButton(panel, cell));
      updateButton(panel, cell);
    }
  };
  void panel.context.ready.then(() => {
    if (panel.isDisposed || !panel.content.model) {
      return;
    }
    sync();
    panel.content.model.cells.changed.connect(sync);
  });
}

export const fixPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:fix-error',
  description: 'A fix button on error outputs that proposes a fix as a diff.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.forEach(watchNotebook);
    tracker.widgetAdded.connect((_, panel) => watchNotebook(panel));
  }
};
