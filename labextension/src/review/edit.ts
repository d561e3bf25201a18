// "Edit Cell with Assistant…" (Accel+K): an instruction typed in the cell, the
// rewritten cell streamed into a diff review. Nothing is written before Accept.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import type { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { collectNotebook } from '../shared/context';
import { assistSettings, tokenLimit } from '../shared/settings';
import { streamProposals } from './proposals';
import { refineProposal, sampling } from './regenerate';
import { focusReview, isReviewing, openReview } from './review';
import { warmEdit } from '../completion/warm';

export const EDIT_COMMAND = 'jupyter-assist:edit-cell';
const PROMPT_CLASS = 'jp-assist-edit-prompt';

/**
 * Ask for an instruction in a one-line input inside the cell, above its code.
 * Enter sends, Escape (or leaving it empty) cancels: resolves null.
 */
function askInstruction(cell: Cell): Promise<string | null> {
  return new Promise(resolve => {
    const host = cell.inputArea?.node ?? cell.node;
    const box = document.createElement('div');
    box.className = PROMPT_CLASS;
    const input = document.createElement('input');
    input.type = 'text';
    input.className = 'jp-assist-edit-input';
    input.placeholder = 'Edit instruction (Enter to send, Esc to cancel)';
    input.setAttribute('aria-label', 'Edit instruction for the assistant');
    // Typing here must not run notebook shortcuts (Shift+Enter, Accel+Enter…).
    input.dataset.lmSuppressShortcuts = 'true';
    box.appendChild(input);

    let settled = false;
    const onDisposed = (): void => finish(null);
    const finish = (value: string | null): void => {
      if (settled) {
        return;
      }
      settled = true;
      cell.disposed.disconnect(onDisposed);
      box.remove();
      host.classList.remove('jp-assist-mod-prompting');
      resolve(value);
    };
    input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault();
        event.stopPropagation();
        const text = input.value.trim();
        if (text) {
          finish(text);
        }
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        finish(null);
      }
    });
    // Clicking away from an empty prompt cancels it; typed text is kept.
    input.addEventListener('blur', () => {
      if (!input.value.trim()) {
        finish(null);
      }
    });
    cell.disposed.connect(onDisposed);
    host.classList.add('jp-assist-mod-prompting');
    host.appendChild(box);
    input.focus();
  });
}

async function editCell(panel: NotebookPanel, cell: Cell): Promise<void> {
  if (focusReview(cell)) {
    return; // one review per cell
  }
  const pending = cell.node.querySelector<HTMLInputElement>(`.${PROMPT_CLASS} input`);
  if (pending) {
    pending.focus();
    return;
  }
  const at = panel.content.widgets.indexOf(cell);
  if (at >= 0) {
    warmEdit(panel, at); // prefilled while the instruction is typed
  }
  const instruction = await askInstruction(cell);
  if (!instruction || cell.isDisposed || isReviewing(cell)) {
    if (!cell.isDisposed && !isReviewing(cell)) {
      cell.editor?.focus();
    }
    return;
  }
  // The source sent is the review's original: both read now, in one tick.
  const source = cell.model.sharedModel.getSource();
  const context = collectNotebook(panel);
  const index = panel.content.widgets.indexOf(cell);
  const body = {
    ...context,
    instruction,
    source,
    cell_index: index >= 0 ? index : null,
    ...tokenLimit(assistSettings.current.edit.maxTokens)
  };
  const stream = streamProposals({ route: 'edit', body }, source);
  await openReview({
    cell,
    label: `Edit: ${instruction}`,
    task: 'edit',
    ...stream,
    regenerate: () => streamProposals({ route: 'edit', body: { ...body, ...sampling() } }, source),
    refine: (current, followUp, sampled) => refineProposal(panel, cell, source, current, followUp, sampled)
  });
}

export const editPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:edit-cell',
  description: 'Edit the active cell with an instruction, reviewed as a diff.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    const target = (): { panel: NotebookPanel; cell: Cell } | null => {
      const panel = tracker.currentWidget;
      const cell = panel?.content.activeCell;
      return panel && cell ? { panel, cell } : null;
    };
    app.commands.addCommand(EDIT_COMMAND, {
      label: 'Edit Cell with Assistant…',
      caption: 'Rewrite the active cell following an instruction; review the diff',
      isEnabled: () => target() !== null,
      execute: async () => {
        const found = target();
        if (found) {
          await editCell(found.panel, found.cell);
        }
      }
    });
    // Accel+K (free in JupyterLab and CodeMirror) is declared in
    // schema/settings.json, so users can rebind it.
    app.contextMenu.addItem({
      command: EDIT_COMMAND,
      selector: '.jp-Notebook .jp-Cell',
      rank: 20
    });
    palette?.addItem({ command: EDIT_COMMAND, category: 'Assistant' });
  }
};
