// Plugin wiring: one plugin per feature; optional tokens may be missing.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { ICompletionProviderManager, IInlineCompleterFactory } from '@jupyterlab/completer';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { agentPlugin } from './agent/agentPlugin';
import { chatPlugin } from './chat/chatPlugin';
import { AssistInlineProvider } from './completion/completer';
import { addGhostDismiss } from './completion/completerDismiss';
import { newLineTrigger } from './completion/completerTriggers';
import { editPlugin } from './review/edit';
import { fixPlugin } from './review/fix';
import { assistIcon } from './shared/icon';
import { kernelBridgePlugin } from './kernel/kernel';
import { nextEditPlugin } from './nextedit/nextedit';
import { addAssistCommands, COMMANDS } from './commands';
import { assistSettings, SETTINGS_PLUGIN_ID } from './shared/settings';
import { StatusModel, StatusWidget } from './status/status';
import { StatusPanel, STATUS_PANEL_ID } from './status/statusPanel';
import { installWarmer } from './completion/warm';

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

/** Loads the "Jupyter Assist" settings page into `assistSettings`. */
const settingsPlugin: JupyterFrontEndPlugin<void> = {
  id: SETTINGS_PLUGIN_ID,
  description: 'The Jupyter Assist settings page: each feature on/off and its limits.',
  autoStart: true,
  optional: [ISettingRegistry],
  activate: async (_app: JupyterFrontEnd, registry: ISettingRegistry | null) => {
    // The fix button hides by a class, so fix.ts needs no settings of its own.
    const apply = () =>
      document.body.classList.toggle('jp-assist-mod-no-fix-button', !assistSettings.current.fix.showButton);
    assistSettings.changed.connect(apply);
    if (!registry) {
      return;
    }
    try {
      const settings = await registry.load(SETTINGS_PLUGIN_ID);
      assistSettings.update(settings.composite);
      settings.changed.connect(() => assistSettings.update(settings.composite));
    } catch (error) {
      console.warn('jupyter-assist: settings not loaded, using defaults', error);
    }
  }
};

/**
 * The status bar item (says ready / loading / error; click it) and the status
 * panel it opens, and the Assistant menu's other commands.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:status',
  description: 'Model status in the status bar, the status panel with the model picker, and the Assistant commands.',
  autoStart: true,
  optional: [IStatusBar, INotebookTracker, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    registry: ISettingRegistry | null
  ) => {
    const model = new StatusModel();
    void model.refresh();
    let panel: MainAreaWidget<StatusPanel> | null = null;
    const showStatus = (): void => {
      if (!panel || panel.isDisposed) {
        panel = new MainAreaWidget({ content: new StatusPanel(model) });
        panel.id = `${STATUS_PANEL_ID}-main`;
        panel.title.label = 'Assistant Status';
        panel.title.icon = assistIcon;
        panel.title.closable = true;
        app.shell.add(panel, 'main', { mode: 'split-right' });
      }
      app.shell.activateById(panel.id);
    };
    addAssistCommands({ app, tracker, palette, registry, showStatus });
    statusBar?.registerStatusItem('jupyter-assist:status', {
      item: new StatusWidget(model, () => void app.commands.execute(COMMANDS.showStatus)),
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
  settingsPlugin,
  completerPlugin,
  chatPlugin,
  statusPlugin,
  warmPlugin,
  editPlugin,
  fixPlugin,
  nextEditPlugin,
  kernelBridgePlugin,
  agentPlugin
];
