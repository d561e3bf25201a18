// The chat sidebar plugin: panel, context from the current notebook, code block actions,
// markdown through rendermime, threads in the state database, the prompt inspector, command.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStateDB } from '@jupyterlab/statedb';
import type { Widget } from '@lumino/widgets';

import { ChatWidget, CHAT_ID } from './chat';
import type { ICodeActions } from './chatBlocks';
import { IChatContext, NO_CONTEXT, notebookChatContext } from './chatContext';
import { inspectorWidget } from './chatInspector';
import { markdownRenderer } from './chatMarkdown';
import { refineProposal } from '../review/regenerate';
import { once, openReview } from '../review/review';

const OPEN_CHAT_COMMAND = 'jupyter-assist:open-chat';

/** Code block buttons act on the active cell of the current notebook. */
function codeActions(tracker: INotebookTracker | null): ICodeActions {
  const activePanel = (): NotebookPanel => {
    const panel = tracker?.currentWidget;
    if (!panel || panel.isDisposed || !panel.content.activeCell) {
      throw new Error('Open a notebook and select a cell first.');
    }
    return panel;
  };
  return {
    // Never a blind overwrite: the code opens as a diff the user accepts or rejects.
    apply: async code => {
      const panel = activePanel();
      const cell = panel.content.activeCell!;
      const original = cell.model.sharedModel.getSource();
      await openReview({
        cell,
        label: 'Apply from chat',
        task: 'chat',
        proposals: once(code),
        // A follow-up refines the chat's code through the edit task.
        refine: (current, instruction, sampled) => refineProposal(panel, cell, original, current, instruction, sampled)
      });
    },
    // A new code cell below the active one, holding exactly the code; not run.
    insertBelow: code => {
      const notebook = activePanel().content;
      NotebookActions.insertBelow(notebook);
      if (notebook.activeCell?.model.type !== 'code') {
        NotebookActions.changeCellType(notebook, 'code');
      }
      notebook.activeCell!.model.sharedModel.setSource(code);
    },
    copy: code => Clipboard.copyToSystem(code)
  };
}

export const chatPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:chat',
  description: 'Assistant chat in the side panel.',
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILayoutRestorer, IRenderMimeRegistry, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    rendermime: IRenderMimeRegistry | null,
    state: IStateDB | null
  ) => {
    // The tracker's current notebook stays set while the chat has focus.
    const getContext = (): IChatContext => {
      const panel = tracker?.currentWidget;
      return panel && !panel.isDisposed ? notebookChatContext(panel) : NO_CONTEXT;
    };
    // One inspector at a time: a new request replaces the last one.
    let inspector: Widget | null = null;
    const chat = new ChatWidget({
      getContext,
      contents: app.serviceManager.contents,
      actions: codeActions(tracker),
      render: markdownRenderer(rendermime),
      state,
      showInspector: (reply, title) => {
        inspector?.dispose();
        inspector = inspectorWidget(reply, title);
        app.shell.add(inspector, 'main', { mode: 'split-right' });
      }
    });
    // Another notebook or cell: chips the user removed come back for the new context.
    tracker?.currentChanged.connect(() => chat.contextChanged());
    tracker?.activeCellChanged.connect(() => chat.contextChanged());
    // A run may add or clear the active cell's error output.
    NotebookActions.executed.connect(() => chat.refreshContext());

    // Right side panel, after JupyterLab's own (property inspector, debugger).
    app.shell.add(chat, 'right', { rank: 1000 });
    restorer?.add(chat, CHAT_ID);

    app.commands.addCommand(OPEN_CHAT_COMMAND, {
      label: 'Open Assistant Chat',
      caption: 'Open the jupyter-assist chat panel',
      execute: () => {
        app.shell.activateById(chat.id);
      }
    });
    palette?.addItem({ command: OPEN_CHAT_COMMAND, category: 'Assistant' });
  }
};
