// A fix button on error outputs that proposes a fix as a diff. (stub)
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

export const fixPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:fix-error',
  description: 'A fix button on error outputs that proposes a fix as a diff.',
  autoStart: true,
  activate: (_app: JupyterFrontEnd) => {
    // Not implemented yet.
  }
};
