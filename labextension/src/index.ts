// Plugin wiring: one plugin per feature; optional tokens may be missing.
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import {
  ICompletionProviderManager,
  IInlineCompleterFactory
} from '@jupyterlab/completer';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { chatPlugin } from './chatPlugin';
import { AssistInlineProvider } from './completer';
import { addGhostDismiss } from './completerDismiss';
import { newLineTrigger } from './completerTriggers';
import { editPlugin } from './edit';
import { fixPlugin } from './fix';
import { kernelBridgePlugin } from './kernel';
import { nextEditPlugin } from './nextedit';
import { StatusWidget } from './status';
import { installWarmer } from './warm';

const completerPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:inline-completer',
  description: 'Inline (ghost text) code completions from jupyter-assist.',
  autoStart: true,
  requires: [ICompletionProviderManager],
  optional: [IInlineCompleterFactory, IEditorExtensionRegistry],
  activate: (
    app: JupyterFrontEnd,
    manager: ICompletionProviderManager,
    completerFactory: IInlineCompleterFactory | null,
    editorExtensions: IEditorExtensionRegistry | null
  ) => {
    const provider = new AssistInlineProvider(app.commands);
    // Must happen during activation: the completer extension reads the list
    // of inline providers once, when the app is restored, to build settings.
    manager.registerInlineProvider(provider);
    // Ghost text on the blank line after Enter; Esc hides it, stays in edit mode.
    editorExtensions?.addExtension(newLineTrigger(app));
    if (completerFactory) {
      addGhostDismiss(app.commands, completerFactory, () => provider.cancel());
    }
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

export default [
  completerPlugin,
  chatPlugin,
  statusPlugin,
  warmPlugin,
  editPlugin,
  fixPlugin,
  nextEditPlugin,
  kernelBridgePlugin
];
