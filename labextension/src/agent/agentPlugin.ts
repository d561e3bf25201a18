// Agent mode: the agent panel in the right sidebar (next to the chat) and the palette
// command "Start agent on this notebook".
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { Widget } from '@lumino/widgets';

import { CHAT_ID } from '../chat/chat';
import { inspectorWidget } from '../chat/chatInspector';

import { assistIcon } from '../shared/icon';
import { AGENT_PANEL_ID, AgentPanel } from './agentPanel';

export const START_AGENT_COMMAND = 'jupyter-assist:start-agent';

export const agentPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:agent',
  description: 'Agent mode: the assistant works through a goal one reviewed cell at a time.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    // One inspector at a time, as in the chat: a step's Prompt link replaces the last one.
    let inspector: Widget | null = null;
    const panel = new AgentPanel(
      () => {
        const nb = tracker.currentWidget;
        return nb && !nb.isDisposed ? nb : null;
      },
      (reply, title) => {
        inspector?.dispose();
        inspector = inspectorWidget(reply, title);
        app.shell.add(inspector, 'main', { mode: 'split-right' });
      }
    );
    panel.title.icon = assistIcon;
    app.shell.add(panel, 'right', { rank: 1001 });
    restorer?.add(panel, AGENT_PANEL_ID);
    app.commands.addCommand(START_AGENT_COMMAND, {
      label: 'Start agent on this notebook',
      caption: 'Open the agent panel for the current notebook',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => {
        app.shell.activateById(panel.id);
        panel.focusGoal();
      }
    });
    palette?.addItem({ command: START_AGENT_COMMAND, category: 'Assistant' });
    // Switch between the chat and the agent from either panel's header. Hooked here, not in
    // chat.ts: the chat widget is found in the shell once the layout is restored.
    void app.restored.then(() => {
      const chat = Array.from(app.shell.widgets('right')).find(w => w.id === CHAT_ID);
      chat?.node
        .querySelector('.jp-assist-chat-header')
        ?.append(
          switchButton(
            'Agent',
            'jp-assist-chat-agent',
            'Start agent on this notebook',
            () => void app.commands.execute(START_AGENT_COMMAND)
          )
        );
      if (chat) {
        panel.node
          .querySelector('.jp-assist-agent-title')
          ?.append(
            switchButton('Chat', 'jp-assist-agent-chat', 'Back to the chat', () => app.shell.activateById(CHAT_ID))
          );
      }
    });
  }
};

function switchButton(label: string, cls: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = `jp-assist-agent-switch ${cls} jp-mod-styled`;
  b.textContent = label;
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}
