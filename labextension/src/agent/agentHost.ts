// The agent loop's host on a JupyterLab notebook: cells by id, the kernel, POST agent.
import { CodeCell, type Cell } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';

import { streamAPI } from '../shared/api';
import { collectNotebook } from '../shared/context';
import { once, openReview } from '../review/review';
import type { IAgentAction, IAgentDoneEvent, IAgentRequest, INotebookContext } from '../shared/types';
import type { IAgentHost, IRunResult } from './agentLoop';
import { changedVariables } from './agentVariables';
import { probeVariables } from '../kernel/variables';

export const AGENT_CELL_CLASS = 'jp-assist-agent-cell';
export const PENDING_CLASS = 'jp-assist-agent-pending';
const METADATA_KEY = 'jupyter_assist';

let requestSeq = 0;

export class NotebookAgentHost implements IAgentHost {
  private _stops = 0; // interrupt() calls: one during run()'s first probe cancels the run
  constructor(readonly panel: NotebookPanel) {
    // Cells the agent wrote keep their mark when the notebook re-renders them.
    panel.content.model?.cells.changed.connect(() => this.remark());
  }

  private get model() {
    const model = this.panel.content.model;
    if (!model) {
      throw new Error('The notebook is closed.');
    }
    return model;
  }

  private widget(id: string): Cell | null {
    return this.panel.content.widgets.find(w => w.model.id === id) ?? null;
  }

  /** Re-apply the agent's class to its cells (by their metadata). */
  remark(): void {
    for (const w of this.panel.content.widgets) {
      const meta = w.model.getMetadata(METADATA_KEY) as { agent?: boolean } | undefined;
      w.toggleClass(AGENT_CELL_CLASS, !!meta?.agent);
    }
  }

  context(): INotebookContext {
    return collectNotebook(this.panel);
  }

  async next(body: IAgentRequest, signal: AbortSignal): Promise<IAgentAction> {
    const request = { ...body, request_id: `agent-${Date.now()}-${++requestSeq}` };
    for await (const event of streamAPI('agent', request, signal)) {
      if (event.type === 'done') {
        return (event as IAgentDoneEvent).action;
      }
      if (event.type === 'error') {
        throw new Error(event.message);
      }
    }
    throw new Error(signal.aborted ? 'Stopped.' : 'The server ended the step without an answer.');
  }

  insert(kind: 'code' | 'markdown', source: string, after: string | null): string {
    const model = this.model;
    let index = model.cells.length;
    if (after !== null) {
      const at = this.indexOf(after);
      if (at !== null) {
        index = at + 1;
      }
    }
    const cell =
      kind === 'code'
        ? {
            cell_type: 'code' as const,
            source,
            metadata: { [METADATA_KEY]: { agent: true } },
            outputs: [],
            execution_count: null
          }
        : { cell_type: 'markdown' as const, source, metadata: { [METADATA_KEY]: { agent: true } } };
    // One transaction, captured apart from any change just before or after it: one undo
    // step removes the whole cell (Y's undo manager merges changes 500 ms apart).
    const undo = (model.sharedModel as unknown as { undoManager?: { stopCapturing(): void } }).undoManager;
    undo?.stopCapturing();
    model.sharedModel.transact(() => {
      model.sharedModel.insertCell(index, cell);
    });
    undo?.stopCapturing();
    const id = model.cells.get(index).id;
    this.remark();
    this.panel.content.activeCellIndex = index;
    return id;
  }

  async edit(id: string, source: string): Promise<boolean> {
    const cell = this.widget(id);
    if (!cell) {
      return false;
    }
    const outcome = await openReview({ cell, label: 'Agent: proposed change', task: 'edit', proposals: once(source) });
    return outcome === 'accepted';
  }

  async run(id: string): Promise<IRunResult> {
    const cell = this.widget(id);
    if (!cell) {
      throw new Error('The cell is gone.');
    }
    if (!(cell instanceof CodeCell)) {
      return { outputs: [], variables: [] };
    }
    this.panel.content.activeCellIndex = this.indexOf(id) ?? this.panel.content.activeCellIndex;
    const stops = this._stops;
    const before = await probeVariables(this.panel);
    if (this._stops !== stops) {
      return { outputs: [], variables: [] }; // Stop came during the probe: the cell never runs
    }
    await CodeCell.execute(cell, this.panel.sessionContext);
    const outputs: Record<string, unknown>[] = [];
    for (let i = 0; i < cell.model.outputs.length; i++) {
      outputs.push(cell.model.outputs.get(i).toJSON() as unknown as Record<string, unknown>);
    }
    // A quick silent probe; an interrupted or failed run still reports what it changed.
    return { outputs, variables: changedVariables(before, await probeVariables(this.panel)) };
  }

  interrupt(): void {
    this._stops++;
    void this.panel.sessionContext.session?.kernel?.interrupt();
  }

  source(id: string): string | null {
    const i = this.indexOf(id);
    return i === null ? null : this.model.cells.get(i).sharedModel.getSource();
  }

  indexOf(id: string): number | null {
    const cells = this.model.cells;
    for (let i = 0; i < cells.length; i++) {
      if (cells.get(i).id === id) {
        return i;
      }
    }
    return null;
  }

  idAt(index: number): string | null {
    const cells = this.model.cells;
    return index >= 0 && index < cells.length ? cells.get(index).id : null;
  }

  setPending(id: string, pending: boolean): void {
    this.widget(id)?.toggleClass(PENDING_CLASS, pending);
  }

  /** Show cell `id` (a card's link). */
  reveal(id: string): void {
    const i = this.indexOf(id);
    if (i !== null) {
      this.panel.content.activeCellIndex = i;
      void this.panel.content.scrollToItem(i);
    }
  }
}
