// Collects notebook content in the shape the server expects (INotebookCell).
import type { NotebookPanel } from '@jupyterlab/notebook';

import type { CellType, INotebookCell, INotebookContext } from './types';
import { kernelVariables } from './variables';

// Rich outputs (images, widgets, HTML tables) are large and useless to a text
// model; keep only text mime types so a request per keystroke stays small.
function keepTextData(data: unknown): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  if (data && typeof data === 'object') {
    for (const [mime, value] of Object.entries(data)) {
      if (mime.startsWith('text/') && mime !== 'text/html') {
        kept[mime] = value;
      }
    }
  }
  return kept;
}

function slimOutput(output: Record<string, unknown>): Record<string, unknown> {
  if ('data' in output) {
    return { ...output, data: keepTextData(output.data) };
  }
  return output;
}

/** nbformat allows multiline strings as arrays of lines. */
function joinSource(source: unknown): string {
  if (Array.isArray(source)) {
    return source.join('');
  }
  return typeof source === 'string' ? source : '';
}

/** Serialize every cell of a notebook panel plus the active cell index. */
export function collectNotebook(panel: NotebookPanel): INotebookContext {
  const model = panel.content.model;
  if (!model) {
    return {};
  }
  const cells: INotebookCell[] = [];
  for (let i = 0; i < model.cells.length; i++) {
    const json = model.cells.get(i).toJSON() as unknown as Record<
      string,
      unknown
    >;
    const cell: INotebookCell = {
      cell_type: json.cell_type as CellType,
      source: joinSource(json.source)
    };
    if (json.cell_type === 'code') {
      const outputs = Array.isArray(json.outputs) ? json.outputs : [];
      cell.outputs = outputs.map(o => slimOutput(o as Record<string, unknown>));
      cell.execution_count = (json.execution_count as number | null) ?? null;
    }
    cells.push(cell);
  }
  const active = panel.content.activeCellIndex;
  const context: INotebookContext = {
    cells,
    cell_index: active >= 0 && active < cells.length ? active : null
  };
  // Cached kernel namespace summaries (kernel.ts keeps them fresh); never waits.
  const variables = kernelVariables(panel);
  if (variables?.length) {
    context.variables = variables;
  }
  return context;
}

/** Kernel language of a notebook, from its metadata (e.g. "python"). */
export function notebookLanguage(panel: NotebookPanel): string | undefined {
  const info = panel.content.model?.getMetadata('language_info') as
    | { name?: unknown }
    | undefined;
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
