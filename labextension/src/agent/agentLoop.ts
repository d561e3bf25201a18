// The agent loop, apart from JupyterLab: the host (notebookHost.ts) owns cells and kernel.
// One server request per step (POST agent); nothing runs without a Run click unless
// auto-run is on, and auto-run never runs shell escapes or cells the agent did not write.
import type {
  AgentActionKind,
  IAgentAction,
  IAgentRequest,
  IAgentStep,
  INotebookContext,
  IVariable
} from '../shared/types';
import { isShellEscape } from './agentShell';

export const MAX_STEPS = 10;
export const FIX_ATTEMPTS = 3; // failed runs in a row before the agent asks the user

export interface IRunResult {
  outputs: Record<string, unknown>[];
  variables: IVariable[];
}

/** What the loop needs from the notebook, the kernel and the server. */
export interface IAgentHost {
  context(): INotebookContext;
  next(body: IAgentRequest, signal: AbortSignal): Promise<IAgentAction>;
  /** Insert a cell below `after` (a cell id; null: at the end): one undo step. Its id. */
  insert(kind: 'code' | 'markdown', source: string, after: string | null): string;
  /** Show `source` as a diff in cell `id`; true when the user accepted it. */
  edit(id: string, source: string): Promise<boolean>;
  run(id: string): Promise<IRunResult>;
  interrupt(): void;
  /** The cell's source now (null: deleted). */
  source(id: string): string | null;
  indexOf(id: string): number | null;
  idAt(index: number): string | null;
  /** Mark cell `id` pending (waiting for Run) or not. */
  setPending(id: string, pending: boolean): void;
}

export type AgentState =
  'idle' | 'thinking' | 'waiting-run' | 'running' | 'waiting-answer' | 'done' | 'stopped' | 'failed';

/** One step as the chat shows it (a card) and as the next request reports it. */
export interface IAgentCard {
  kind: AgentActionKind;
  text: string;
  cellId: string | null;
  /** What the agent proposed (code / edit / markdown), or its raw answer (error). */
  proposed: string;
  /** What ran (the user may have edited the cell first). */
  ran: string | null;
  outputs: Record<string, unknown>[];
  variables: IVariable[];
  reply: string;
  /** The request that got this step (the prompt inspector shows its prompt); null: none. */
  request: IAgentRequest | null;
  status: 'pending' | 'running' | 'ran' | 'error' | 'declined' | 'answered' | 'info';
}

function hasError(outputs: Record<string, unknown>[]): boolean {
  return outputs.some(o => o.output_type === 'error');
}

export class AgentSession {
  readonly cards: IAgentCard[] = [];
  state: AgentState = 'idle';
  message = '';
  autoRun = false;
  private _goal = '';
  private _last: string | null = null; // the cell the agent touched last
  private readonly _own = new Set<string>(); // cells the agent wrote
  private _abort: AbortController | null = null;
  private _request: IAgentRequest | null = null; // the step's request, for its card
  private _listeners: (() => void)[] = [];

  constructor(
    private readonly host: IAgentHost,
    readonly maxSteps = MAX_STEPS
  ) {}

  onChange(listener: () => void): void {
    this._listeners.push(listener);
  }

  private _changed(): void {
    for (const l of this._listeners) {
      l();
    }
  }

  get pending(): IAgentCard | null {
    const last = this.cards[this.cards.length - 1];
    return last && last.status === 'pending' ? last : null;
  }

  start(goal: string): Promise<void> {
    this._goal = goal.trim();
    this.cards.length = 0;
    this._last = null;
    this._own.clear();
    return this._think();
  }

  /** Stop at once: the request is cancelled, an agent cell that runs is interrupted. */
  stop(): void {
    this._abort?.abort();
    if (this.state === 'running') {
      this.host.interrupt();
    }
    const pending = this.pending;
    if (pending?.cellId) {
      this.host.setPending(pending.cellId, false);
    }
    this._set('stopped', 'Stopped.');
  }

  /** The user's Run click on the pending cell. */
  async run(): Promise<void> {
    const card = this.pending;
    if (!card || !card.cellId || this.state !== 'waiting-run') {
      return;
    }
    await this._run(card);
  }

  /** The user declines the pending cell: the agent hears so and goes on. */
  decline(reason = 'The user chose not to run it.'): Promise<void> {
    const card = this.pending;
    if (!card || this.state !== 'waiting-run') {
      return Promise.resolve();
    }
    card.status = 'declined';
    card.reply = reason;
    if (card.cellId) {
      this.host.setPending(card.cellId, false);
    }
    return this._think();
  }

  /** The user's answer to a question. */
  answer(text: string): Promise<void> {
    const card = this.cards[this.cards.length - 1];
    if (this.state !== 'waiting-answer' || !card) {
      return Promise.resolve();
    }
    card.reply = text;
    card.status = 'answered';
    return this._think();
  }

  private _set(state: AgentState, message = ''): void {
    this.state = state;
    this.message = message;
    this._changed();
  }

  private _steps(): IAgentStep[] {
    return this.cards.map(c => {
      const index = c.cellId ? this.host.indexOf(c.cellId) : null;
      const step: IAgentStep = { kind: c.kind, text: c.text, reply: c.reply };
      if (c.kind === 'code' || c.kind === 'edit') {
        step.source = c.ran ?? c.proposed;
        step.cell_index = index;
        step.ran = c.ran !== null;
        step.edited = c.ran !== null && c.ran !== c.proposed;
        step.outputs = c.outputs;
        step.variables = c.variables;
      } else if (c.kind === 'markdown') {
        step.source = c.proposed;
        step.cell_index = index;
      } else if (c.kind === 'error') {
        step.source = c.proposed;
      }
      return step;
    });
  }

  private _failedInARow(): number {
    let n = 0;
    for (let i = this.cards.length - 1; i >= 0; i--) {
      const c = this.cards[i];
      if ((c.kind === 'code' || c.kind === 'edit') && c.status === 'error') {
        n++;
      } else {
        break;
      }
    }
    return n;
  }

  private async _think(): Promise<void> {
    this._request = null;
    if (this.cards.length >= this.maxSteps) {
      this._set('done', `Stopped after ${this.maxSteps} steps (the step budget).`);
      return;
    }
    if (this._failedInARow() >= FIX_ATTEMPTS) {
      this.cards.push(this._card('ask', `The last ${FIX_ATTEMPTS} runs failed. How should I go on?`));
      this._set('waiting-answer');
      return;
    }
    this._abort = new AbortController();
    const signal = this._abort.signal;
    this._set('thinking');
    let action: IAgentAction;
    try {
      const ctx = this.host.context();
      this._request = { ...ctx, request_id: '', goal: this._goal, steps: this._steps(), max_steps: this.maxSteps };
      action = await this.host.next(this._request, signal);
    } catch (error) {
      if (!signal.aborted) {
        this._set('failed', String((error as Error)?.message ?? error));
      }
      return;
    }
    if (signal.aborted) {
      return;
    }
    await this._apply(action);
  }

  private _card(kind: AgentActionKind, text: string, proposed = '', cellId: string | null = null): IAgentCard {
    return {
      kind,
      text,
      cellId,
      proposed,
      ran: null,
      outputs: [],
      variables: [],
      reply: '',
      request: this._request,
      status: 'info'
    };
  }

  private async _apply(action: IAgentAction): Promise<void> {
    switch (action.kind) {
      case 'code': {
        const id = this.host.insert('code', action.source, this._last);
        this._own.add(id);
        this._last = id;
        const card = this._card('code', action.text, action.source, id);
        card.status = 'pending';
        this.cards.push(card);
        return this._offer(card);
      }
      case 'edit': {
        const id = action.cell_index === null ? null : this.host.idAt(action.cell_index);
        const card = this._card('edit', action.text, action.source, id);
        this.cards.push(card);
        if (!id) {
          card.status = 'declined';
          card.reply = 'That cell does not exist.';
          return this._think();
        }
        this._set('waiting-run', 'Review the proposed change in the cell.');
        const accepted = await this.host.edit(id, action.source);
        if (this.state !== 'waiting-run') {
          return; // stopped meanwhile
        }
        if (!accepted) {
          card.status = 'declined';
          card.reply = 'The user rejected the change.';
          return this._think();
        }
        this._last = id;
        card.status = 'pending';
        return this._offer(card);
      }
      case 'markdown': {
        const id = this.host.insert('markdown', action.source, this._last);
        this._own.add(id);
        this._last = id;
        this.cards.push(this._card('markdown', action.text, action.source, id));
        return this._think();
      }
      case 'ask':
        this.cards.push(this._card('ask', action.text));
        this._set('waiting-answer');
        return;
      case 'done':
        this.cards.push(this._card('done', action.text));
        this._set('done', action.text);
        return;
      default:
        this.cards.push(this._card('error', action.text, ''));
        return this._think();
    }
  }

  /** A pending cell: run it now (auto-run, own cell, no shell escape) or wait for Run. */
  private async _offer(card: IAgentCard): Promise<void> {
    const id = card.cellId!;
    this.host.setPending(id, true);
    const source = this.host.source(id) ?? '';
    if (this.autoRun && this._own.has(id) && !isShellEscape(source)) {
      return this._run(card);
    }
    const why = isShellEscape(source) ? ' (a shell command: never run automatically)' : '';
    this._set('waiting-run', `Run the agent's cell to go on${why}.`);
  }

  private async _run(card: IAgentCard): Promise<void> {
    const id = card.cellId!;
    const source = this.host.source(id);
    if (source === null) {
      card.status = 'declined';
      card.reply = 'The user deleted the cell.';
      return this._think();
    }
    card.ran = source;
    card.status = 'running';
    this._set('running');
    let result: IRunResult;
    try {
      result = await this.host.run(id);
    } catch (error) {
      result = {
        outputs: [{ output_type: 'error', ename: 'RunError', evalue: String(error), traceback: [] }],
        variables: []
      };
    }
    this.host.setPending(id, false);
    if (this.state !== 'running') {
      return; // stopped while it ran
    }
    card.outputs = result.outputs;
    card.variables = result.variables;
    card.status = hasError(result.outputs) ? 'error' : 'ran';
    return this._think();
  }
}
