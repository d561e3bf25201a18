// The Assistant menu's commands that no feature plugin owns: explain, fix,
// the show-context and status views, the on/off toggles and the settings page.
// The menu itself and the shortcuts are declared in schema/settings.json.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

import type { ChatWidget } from './chat/chat';
import { CHAT_ID } from './chat/chat';
import { notebookChatContext } from './chat/chatContext';
import { assistSettings, SETTINGS_PLUGIN_ID } from './shared/settings';

export const COMMANDS = {
  editCell: 'jupyter-assist:edit-cell',
  explainCell: 'jupyter-assist:explain-cell',
  fixError: 'jupyter-assist:fix-error',
  openChat: 'jupyter-assist:open-chat',
  showContext: 'jupyter-assist:show-context',
  toggleGhostText: 'jupyter-assist:toggle-ghost-text',
  toggleNextEdit: 'jupyter-assist:toggle-next-edit',
  showStatus: 'jupyter-assist:show-status',
  openSettings: 'jupyter-assist:open-settings'
} as const;

/** What the explain command asks; the active cell and its outputs go as context. */
export const EXPLAIN_QUESTION = 'Explain what the active cell does, step by step, and what its output shows.';

/** The fix button fix.ts puts under an error output. */
const FIX_BUTTON = '.jp-assist-fix-button';

function findChat(app: JupyterFrontEnd): ChatWidget | null {
  for (const widget of app.shell.widgets('right')) {
    if (widget.id === CHAT_ID) {
      return widget as ChatWidget;
    }
  }
  return null;
}

export interface ICommandDeps {
  app: JupyterFrontEnd;
  tracker: INotebookTracker | null;
  palette: ICommandPalette | null;
  registry: ISettingRegistry | null;
  showStatus: () => void;
}

export function addAssistCommands(deps: ICommandDeps): void {
  const { app, tracker, palette, registry } = deps;
  const commands = app.commands;
  const activeCell = () => tracker?.currentWidget?.content.activeCell ?? null;

  commands.addCommand(COMMANDS.explainCell, {
    label: 'Explain Cell in Chat',
    caption: 'Ask the chat to explain the active cell and its output',
    isEnabled: () => activeCell() !== null && findChat(app) !== null,
    execute: async () => {
      const chat = findChat(app);
      if (!chat || activeCell() === null) {
        return;
      }
      app.shell.activateById(chat.id);
      // The active cell with its outputs (and error) as chips, even ones removed earlier.
      const panel = tracker?.currentWidget;
      await chat.ask(EXPLAIN_QUESTION, panel ? notebookChatContext(panel) : undefined);
    }
  });

  commands.addCommand(COMMANDS.fixError, {
    label: 'Fix Error with Assistant',
    caption: "Propose a fix for the active cell's error as a diff in the cell",
    isEnabled: () => activeCell()?.node.querySelector(FIX_BUTTON) != null,
    execute: () => {
      activeCell()?.node.querySelector<HTMLButtonElement>(FIX_BUTTON)?.click();
    }
  });

  commands.addCommand(COMMANDS.showContext, {
    label: 'Show Assistant Context',
    caption: 'Show exactly what the next chat message would send, with token counts',
    isEnabled: () => findChat(app) !== null,
    execute: async () => {
      await findChat(app)?.inspect();
    }
  });

  const toggle = (section: 'ghostText' | 'nextEdit', label: string, caption: string) => ({
    label,
    caption,
    isToggled: () => assistSettings.current[section].enabled,
    isEnabled: () => registry !== null,
    execute: async () => {
      const current = assistSettings.current[section];
      await registry?.set(SETTINGS_PLUGIN_ID, section, { ...current, enabled: !current.enabled });
    }
  });
  commands.addCommand(
    COMMANDS.toggleGhostText,
    toggle('ghostText', 'Ghost Text Completions', 'Turn inline (ghost text) completions on or off')
  );
  commands.addCommand(
    COMMANDS.toggleNextEdit,
    toggle('nextEdit', 'Next Edit Suggestions', 'Turn next-edit proposals on or off')
  );
  // Menus and the palette redraw the check marks when a setting changes.
  assistSettings.changed.connect(() => {
    commands.notifyCommandChanged(COMMANDS.toggleGhostText);
    commands.notifyCommandChanged(COMMANDS.toggleNextEdit);
  });

  commands.addCommand(COMMANDS.showStatus, {
    label: 'Assistant Status and Model',
    caption: 'The model, its memory, queue and cache, errors, and the model picker',
    execute: deps.showStatus
  });

  commands.addCommand(COMMANDS.openSettings, {
    label: 'Assistant Settings',
    caption: 'Open the Jupyter Assist settings page',
    execute: () => commands.execute('settingeditor:open', { query: 'Jupyter Assist' })
  });

  // Every feature in the palette; edit and chat add their own items.
  for (const command of Object.values(COMMANDS)) {
    if (command !== COMMANDS.editCell && command !== COMMANDS.openChat) {
      palette?.addItem({ command, category: 'Assistant' });
    }
  }
}
