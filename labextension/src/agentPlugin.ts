// Agent mode: the agent panel in the right sidebar (next to the chat) and the palette
// command "Start agent on this notebook".
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { Widget } from '@lumino/widgets';

import { inspectorWidget } from './chatInspector';

import { assistIcon } from './icon';
import { AGENT_PANEL_ID, AgentPanel } from './agentPanel';

export const START_AGENT_COMMAND = 'jupyter-assist:start-agent';

export const agentPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:agent',
  description: 'Agent mode: the assistant works through a goal one reviewed cell at a time.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null, restorer: ILayoutRestorer | null) => {
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
  }
};
