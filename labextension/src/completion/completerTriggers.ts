// Ghost text on the new line after Enter in a code cell.
//
// JupyterLab asks inline providers automatically only when the text before
// the cursor is not blank, so after `def mean(xs):` Enter the indented line
// would stay empty until the next key. This editor extension invokes the
// inline completer (JupyterLab's own command, so its ghost text machinery
// renders the answer) when the user's edit was a line break.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { EditorExtensionRegistry, type IEditorExtensionFactory } from '@jupyterlab/codemirror';
import { EditorView } from '@codemirror/view';

import { isLineBreak, onBlankLine } from './lineBreak';

/** JupyterLab's command behind Alt+\ (explicit inline completion). */
const INVOKE_COMMAND = 'inline-completer:invoke';

/**
 * The editor extension for code cells (notebooks and consoles): after a line
 * break typed by the user that leaves the cursor on a blank line, invoke the
 * inline completer of the current widget, if it holds this editor.
 */
export function newLineTrigger(app: Pick<JupyterFrontEnd, 'commands' | 'shell'>): IEditorExtensionFactory {
  const invoke = (view: EditorView): void => {
    const current = app.shell.currentWidget;
    if (
      !view.hasFocus ||
      !onBlankLine(view) ||
      !current?.node.contains(view.dom) ||
      !app.commands.hasCommand(INVOKE_COMMAND)
    ) {
      return;
    }
    app.commands.execute(INVOKE_COMMAND).catch(reason => {
      console.warn('jupyter-assist: inline completion after Enter:', reason);
    });
  };
  return {
    name: 'jupyter-assist:complete-after-line-break',
    factory: options => {
      // A cell's editor model is the cell model: only code cells qualify
      // (file editors have no cell type).
      const shared = options.model.sharedModel as { cell_type?: unknown };
      if (shared.cell_type !== 'code') {
        return null;
      }
      return EditorExtensionRegistry.createImmutableExtension(
        EditorView.updateListener.of(update => {
          if (update.view.hasFocus && update.transactions.some(isLineBreak)) {
            // Next task: the completer handles this edit first, and its
            // automatic request (which bails on a blank line) would make an
            // earlier invoke stale.
            const view = update.view;
            setTimeout(() => invoke(view), 0);
          }
        })
      );
    }
  };
}
