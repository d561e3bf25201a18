// The chat sidebar plugin: panel, context from the current notebook, command.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { ChatWidget, CHAT_ID, IChatContext } from './chat';
import { collectNotebook } from './context';

const OPEN_CHAT_COMMAND = 'jupyter-assist:open-chat';

export const chatPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:chat',
  description: 'Assistant chat in the side panel.',
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    // The tracker's current notebook stays set while the chat has focus.
    const getContext = (): IChatContext => {
      const panel = tracker?.currentWidget;
      if (!panel || panel.isDisposed) {
        return { notebook: {}, label: null };
      }
      return { notebook: collectNotebook(panel), label: panel.title.label };
    };
    const chat = new ChatWidget({ getContext });
    tracker?.currentChanged.connect(() => chat.refreshContext());

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

