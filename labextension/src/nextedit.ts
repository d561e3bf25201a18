// Proposes the follow-up edits after a change; Tab accepts, Esc dismisses. (stub)
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

export const nextEditPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:next-edit',
  description: 'Proposes the follow-up edits after a change; Tab accepts, Esc dismisses.',
  autoStart: true,
  activate: (_app: JupyterFrontEnd) => {
    // Not implemented yet.
  }
};
