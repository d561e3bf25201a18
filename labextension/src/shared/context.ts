// Collects notebook content in the shape the server expects (INotebookCell).
import type { ICodeCellModel } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';

import { capCellOutputs } from './outputCap';
import type { CellType, INotebookCell, INotebookContext } from './types';
import { kernelVariables } from '../kernel/variables';

/**
 * Serialize every cell of a notebook panel plus the active cell index: every request's
 * notebook context comes from here, outputs capped as the server would cap them.
 */
export function collectNotebook(panel: NotebookPanel): INotebookContext {
  const model = panel.content.model;
  if (!model) {
    return {};
  }
  const cells: INotebookCell[] = [];
  for (let i = 0; i < model.cells.length; i++) {
    // The cell's own models, not its toJSON(): that copies every output (a stream's
    // whole text, rebuilt from the shared document) on every keystroke.
    const cellModel = model.cells.get(i);
    const cell: INotebookCell = {
      cell_type: cellModel.type as CellType,
      source: cellModel.sharedModel.getSource()
    };
    if (cellModel.type === 'code') {
      const code = cellModel as ICodeCellModel;
      const outputs: Record<string, unknown>[] = [];
      for (let j = 0; j < code.outputs.length; j++) {
        outputs.push(code.outputs.get(j).toJSON() as unknown as Record<string, unknown>);
      }
      cell.outputs = outputs;
      cell.execution_count = code.executionCount ?? null;
    }
    cells.push(cell);
  }
  const active = panel.content.activeCellIndex;
  const current = active >= 0 && active < cells.length ? active : null;
  capCellOutputs(cells, current);
  const context: INotebookContext = { cells, cell_index: current };
  // Cached kernel namespace summaries (kernel.ts keeps them fresh); never waits.
  const variables = kernelVariables(panel);
  if (variables?.length) {
    context.variables = variables;
  }
  return context;
}

/** Kernel language of a notebook, from its metadata (e.g. "python"). */
export function notebookLanguage(panel: NotebookPanel): string | undefined {
  const info = panel.content.model?.getMetadata('language_info') as { name?: unknown } | undefined;
  return typeof info?.name === 'string' ? info.name : undefined;
}

/** Map an editor mime type (e.g. "text/x-ipython") to a language name. */
export function languageFromMime(mimeType: string | undefined): string {
  // Markdown first: JupyterLab's markdown cells are "text/x-ipythongfm".
  if (mimeType && /markdown|gfm/i.test(mimeType)) {
    return 'markdown';
  }
  if (!mimeType || /python/i.test(mimeType)) {
    return 'python';
  }
  return mimeType.replace(/^(text|application)\/(x-)?/, '');
}
