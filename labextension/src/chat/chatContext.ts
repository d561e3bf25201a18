// What the chat can see of the current notebook: its cells, and the automatic chips
// (active cell, selection, error output, variables) for its present state.
import type { NotebookPanel } from '@jupyterlab/notebook';

import { attachment, firstLine, IChip } from './chatChips';
import { collectNotebook } from '../shared/context';
import type { INotebookContext } from '../shared/types';

/** Snapshot of the chat's context, taken on each refresh and each send. */
export interface IChatContext {
  /** Conversation key: the notebook's path ('' without a notebook). */
  key: string;
  /** Human-readable name of the notebook. */
  label: string | null;
  /** Cells, active cell index, variables; the active cell's error output is left out
   * (its chip carries it). */
  notebook: INotebookContext;
  /** Chips for the present state, before the user removes any. */
  chips: IChip[];
  /** The notebook's folder (for @-mentioned files), '' at the root. */
  directory: string | null;
}

export const NO_CONTEXT: IChatContext = {
  key: '',
  label: null,
  notebook: {},
  chips: [],
  directory: null
};

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

function joined(value: unknown): string {
  return Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '';
}

/** The traceback (ANSI colours stripped) and `ename: evalue` of an error output. */
export function errorOutputText(output: Record<string, unknown>): string {
  const head = `${joined(output.ename)}: ${joined(output.evalue)}`;
  const trace = Array.isArray(output.traceback)
    ? output.traceback.map(line => joined(line).replace(ANSI, '')).join('\n')
    : '';
  // IPython's traceback already ends with `ename: evalue`.
  if (!trace) {
    return head;
  }
  return trace.includes(head) ? trace : `${trace}\n${head}`;
}

function selectionChip(panel: NotebookPanel, index: number): IChip | null {
  const cell = panel.content.activeCell;
  const editor = cell?.editor;
  if (!cell || !editor) {
    return null;
  }
  const selection = editor.getSelection();
  const source = cell.model.sharedModel.getSource();
  const a = editor.getOffsetAt(selection.start);
  const b = editor.getOffsetAt(selection.end);
  const [from, to] = a <= b ? [a, b] : [b, a];
  const text = source.slice(from, to);
  if (!text.trim()) {
    return null;
  }
  return {
    key: `selection:${cell.model.id}:${from}-${to}`,
    kind: 'selection',
    label: `Selection in cell ${index + 1}`,
    detail: text,
    attachment: attachment('selection', `Selection in cell ${index + 1}`, text)
  };
}

/** The chat context of a notebook panel. */
export function notebookChatContext(panel: NotebookPanel): IChatContext {
  const notebook = collectNotebook(panel);
  const chips: IChip[] = [];
  const index = notebook.cell_index;
  const cells = notebook.cells ?? [];
  const cell = panel.content.activeCell;
  if (index !== null && index !== undefined && cells[index] && cell) {
    const active = cells[index];
    const id = cell.model.id;
    chips.push({
      key: `active-cell:${id}`,
      kind: 'active-cell',
      label: `Cell ${index + 1}` + (firstLine(active.source) ? `: ${firstLine(active.source, 24)}` : ' (empty)'),
      detail: active.source
    });
    const selection = selectionChip(panel, index);
    if (selection) {
      chips.push(selection);
    }
    const outputs = active.outputs ?? [];
    const error = outputs.find(o => o.output_type === 'error');
    if (error) {
      const text = errorOutputText(error);
      const label = `Error in cell ${index + 1}: ${joined(error.ename) || 'error'}`;
      chips.push({
        key: `error:${id}:${active.execution_count ?? ''}:${text.length}`,
        kind: 'error',
        label,
        detail: text,
        attachment: attachment('error', label, text)
      });
      // The chip carries the error: not a second time in the cell's outputs.
      cells[index] = {
        ...active,
        outputs: outputs.filter(o => o.output_type !== 'error')
      };
    }
  }
  const variables = notebook.variables ?? [];
  if (variables.length) {
    chips.push({
      key: 'variables',
      kind: 'variables',
      label: `Variables (${variables.length})`,
      detail: variables
        .map(v => `${v.name}${v.type ? `: ${v.type}` : ''}${v.summary ? `, ${v.summary}` : ''}`)
        .join('\n')
    });
  }
  const path = panel.context.path;
  const slash = path.lastIndexOf('/');
  return {
    key: path,
    label: panel.title.label,
    notebook,
    chips,
    directory: slash >= 0 ? path.slice(0, slash) : ''
  };
}
