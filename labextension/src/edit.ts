// Edit the active cell with an instruction, reviewed as a diff. (stub)
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

export const editPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:edit-cell',
  description: 'Edit the active cell with an instruction, reviewed as a diff.',
  autoStart: true,
  activate: (_app: JupyterFrontEnd) => {
    // Not implemented yet.
  }
};
