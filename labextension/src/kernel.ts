// Kernel bridge: %%assist widgets write cells; variables for requests. (stub)
import type {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

export const kernelBridgePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:kernel-bridge',
  description: 'Kernel bridge: %%assist widgets write cells; variables for requests.',
  autoStart: true,
  activate: (_app: JupyterFrontEnd) => {
    // Not implemented yet.
  }
};
