// Which edits count as the user breaking a line (and so ask for ghost text).
// CodeMirror's own Enter command (@codemirror/commands comes with
// @jupyterlab/codemirror), so the test sees the transaction JupyterLab makes.
import { insertNewlineAndIndent } from '@codemirror/commands';
import { EditorSelection, EditorState } from '@codemirror/state';
import type { Transaction } from '@codemirror/state';

import { isLineBreak } from '../completion/lineBreak';

/** The transaction CodeMirror's Enter command makes with the cursor at `at`. */
function enter(doc: string, at: number): Transaction {
  const state = EditorState.create({
    doc,
    selection: EditorSelection.cursor(at)
  });
  const made: Transaction[] = [];
  insertNewlineAndIndent({ state, dispatch: tr => made.push(tr) });
  expect(made).toHaveLength(1);
  return made[0];
}

function input(doc: string, insert: string, userEvent: string): Transaction {
  const state = EditorState.create({ doc });
  return state.update({
    changes: { from: doc.length, insert },
    userEvent
  });
}

describe('isLineBreak', () => {
  it('is Enter after a block opener (with its indentation)', () => {
    const tr = enter('    def mean(xs):', 17);
    expect(tr.state.doc.toString()).toBe('    def mean(xs):\n    ');
    expect(isLineBreak(tr)).toBe(true);
  });

  it('is Enter between brackets and in the middle of a line', () => {
    expect(isLineBreak(enter('f()', 2))).toBe(true);
    expect(isLineBreak(enter('x = 1', 3))).toBe(true);
  });

  it('is not typing, pasting code, or a programmatic edit', () => {
    expect(isLineBreak(input('x', ' = 1', 'input.type'))).toBe(false);
    expect(isLineBreak(input('x', ' ', 'input.type'))).toBe(false);
    expect(isLineBreak(input('x', '\ny = 2', 'input.paste'))).toBe(false);
    expect(isLineBreak(input('x', '\n', 'delete'))).toBe(false);
    const state = EditorState.create({ doc: 'x' });
    expect(isLineBreak(state.update({ changes: { from: 1, insert: '\n' } }))).toBe(false);
  });
});
