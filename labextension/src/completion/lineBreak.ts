// Which editor updates are the user breaking a line (pure CodeMirror, no
// JupyterLab: unit-tested without a browser).
import type { Transaction } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';

/**
 * Whether `tr` is the user breaking a line: an input whose insertions are
 * whitespace holding a line break (Enter, with its indentation; also Enter
 * between brackets, which opens an indented blank line between them).
 */
export function isLineBreak(tr: Transaction): boolean {
  if (!tr.docChanged || !tr.isUserEvent('input')) {
    return false;
  }
  let breaks = false;
  let other = false;
  tr.changes.iterChanges((_fromA, _toA, _fromB, _toB, inserted) => {
    if (/\S/.test(inserted.toString())) {
      other = true;
    } else if (inserted.lines > 1) {
      breaks = true;
    }
  });
  return breaks && !other;
}

/** Whether the cursor sits alone on a blank (or indentation-only) line. */
export function onBlankLine(view: EditorView): boolean {
  const { main } = view.state.selection;
  return main.empty && !view.state.doc.lineAt(main.head).text.trim();
}
