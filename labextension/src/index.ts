// Plugin wiring: one plugin per feature; optional tokens may be missing.
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { ChatWidget, CHAT_ID, IChatContext } from './chat';
import { AssistInlineProvider } from './completer';
import { collectNotebook } from './context';
import { StatusWidget } from './status';
import { installWarmer } from './warm';

const OPEN_CHAT_COMMAND = 'jupyter-assist:open-chat';

const completerPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:inline-completer',
  description: 'Inline (ghost text) code completions from jupyter-assist.',
  autoStart: true,
  requires: [ICompletionProviderManager],
  activate: (_app: JupyterFrontEnd, manager: ICompletionProviderManager) => {
    // Must happen during activation: the completer extension reads the list
    // of inline providers once, when the app is restored, to build settings.
    manager.registerInlineProvider(new AssistInlineProvider());
  }
};

const chatPlugin: JupyterFrontEndPlugin<void> = {
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

const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:status',
  description: 'Model status (loading, ready, error) in the status bar.',
  autoStart: true,
  optional: [IStatusBar],
  activate: (_app: JupyterFrontEnd, statusBar: IStatusBar | null) => {
    if (!statusBar) {
      return; // No status bar (e.g. a custom shell): nothing to poll for.
    }
    statusBar.registerStatusItem('jupyter-assist:status', {
      item: new StatusWidget(),
      align: 'left',
      rank: 100
    });
  }
};

const warmPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:warm',
  description: 'Prefill the completion context of the focused cell.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    installWarmer(tracker);
  }
};

export default [completerPlugin, chatPlugin, statusPlugin, warmPlugin];
