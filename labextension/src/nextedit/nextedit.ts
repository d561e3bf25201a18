// Next edit: after the user types in a cell and pauses, propose the follow-up edits
// (renames, call sites...) in this and other cells; Tab (or the accept shortcut, a
// setting) jumps to the next one and accepts it, Esc dismisses them all. Tab goes to a
// visible ghost text first, then to an open completer list. The server never proposes in
// the lines just typed nor undoes them. Settings: nextEdit in the "Jupyter Assist" page
// (enabled, acceptKey, maxTokens). `POST jupyter-assist/next-edit`.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ICellModel } from '@jupyterlab/cells';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { UUID } from '@lumino/coreutils';
import type { EditorView } from '@codemirror/view';
import { StateEffect } from '@codemirror/state';

import { cancelRequest, streamAPI } from '../shared/api';
import { collectNotebook } from '../shared/context';
import { nextEditExtension, setHint, setProposals } from './nexteditView';
import { assistSettings } from '../shared/settings';
import { replaceSource } from '../shared/sourceEdit';
import { SuggestionOutcome } from '../shared/outcome';
import type { IShownProposal } from './nexteditView';
import type { ICellEdit, INextEditProposal, INextEditRequest, NextEditStreamEvent } from '../shared/types';

/** Milliseconds of no typing before asking for proposals. */
export const NEXT_EDIT_DEBOUNCE_MS = 700;
/** Recent edits sent per request (the server takes at most 8). */
const MAX_EDITS = 4;
/** The command that accepts the next proposal (bound in schema/settings.json). */
export const ACCEPT_COMMAND = 'jupyter-assist:accept-next-edit';

/** A proposal waiting in a cell, tied to the cell by id (indices move). */
interface IPending {
  cellId: string;
  startLine: number;
  endLine: number;
  old: string[];
  new: string[];
  /** Its telemetry: shown when added, then accepted or rejected (a stale one: neither). */
  outcome: SuggestionOutcome;
}

interface IEdit {
  cellId: string;
  before: string;
  after: string;
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The CodeMirror view of a cell widget's editor, when it is one and exists. */
function viewOf(editor: unknown): EditorView | null {
  const view = (editor as { editor?: unknown } | null)?.editor as EditorView | undefined;
  return view && typeof view.dispatch === 'function' && view.state ? view : null;
}

/** Edits, requests and proposals of one notebook panel. */
class NextEditSession {
  constructor(private readonly panel: NotebookPanel) {
    void panel.context.ready.then(() => this._watch());
    panel.disposed.connect(() => this._dispose());
    assistSettings.changed.connect(this._onSettings, this);
  }

  /** Switched off: nothing pending, nothing asked. */
  private _onSettings(): void {
    if (!assistSettings.current.nextEdit.enabled) {
      this._abort();
      this._bursts.clear();
      this._edits = [];
      this._clear(null);
    } else {
      this._render(); // the hint names the accept key
    }
  }

  /** Whether `cell`'s own editor has the focus: the change is the user typing there. */
  private _typedIn(cell: ICellModel): boolean {
    const widget = this.panel.content.widgets.find(w => w.model === cell);
    return !!widget && !!viewOf(widget.editor)?.hasFocus;
  }

  private _watch(): void {
    const model = this.panel.content.model;
    if (!model || this._disposed) {
      return;
    }
    const attachAll = () => {
      for (let i = 0; i < model.cells.length; i++) {
        this._attach(model.cells.get(i));
      }
    };
    attachAll();
    model.cells.changed.connect(attachAll);
  }

  private _attach(cell: ICellModel): void {
    if (this._known.has(cell.id)) {
      return;
    }
    this._known.set(cell.id, cell.sharedModel.getSource());
    cell.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        this._onSource(cell);
      }
    });
  }

  /** A source change: ours (an accepted proposal) or the user's. */
  private _onSource(cell: ICellModel): void {
    const now = cell.sharedModel.getSource();
    const before = this._known.get(cell.id) ?? now;
    this._known.set(cell.id, now);
    // Only the user's typing asks for follow-ups: not an accepted proposal, not a cell
    // another feature wrote (chat's Insert below, an accepted review), not next edit off.
    if (this._applying || cell.type !== 'code' || !assistSettings.current.nextEdit.enabled || !this._typedIn(cell)) {
      return;
    }
    if (!this._bursts.has(cell.id)) {
      this._bursts.set(cell.id, before); // the snapshot when typing started
    }
    // Whatever was proposed was for the text before this keystroke. Redraw later: this
    // runs inside the typing editor's update, where it must not dispatch.
    this._abort();
    this._clear('rejected', true);
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    this._timer = window.setTimeout(() => {
      this._timer = null;
      this._onPause();
    }, NEXT_EDIT_DEBOUNCE_MS);
  }

  private _onPause(): void {
    if (!assistSettings.current.nextEdit.enabled) {
      this._bursts.clear();
      return;
    }
    for (const [cellId, before] of this._bursts) {
      const after = this._known.get(cellId);
      if (after === undefined || after === before) {
        continue;
      }
      const last = this._edits[this._edits.length - 1];
      if (last && last.cellId === cellId && last.after === before) {
        last.after = after; // one edit from the first snapshot on
      } else {
        this._edits.push({ cellId, before, after });
      }
    }
    this._bursts.clear();
    this._edits = this._edits.filter(e => e.before !== e.after).slice(-MAX_EDITS);
    if (this._edits.length > 0) {
      void this._request();
    }
  }

  private _indexOf(cellId: string): number {
    const cells = this.panel.content.model?.cells;
    if (cells) {
      for (let i = 0; i < cells.length; i++) {
        if (cells.get(i).id === cellId) {
          return i;
        }
      }
    }
    return -1;
  }

  private async _request(): Promise<void> {
    const edits: ICellEdit[] = [];
    for (const e of this._edits) {
      const index = this._indexOf(e.cellId);
      if (index >= 0) {
        edits.push({ cell_index: index, before: e.before, after: e.after });
      }
    }
    if (edits.length === 0) {
      return;
    }
    this._abort();
    const controller = new AbortController();
    const maxTokens = assistSettings.current.nextEdit.maxTokens;
    const body: INextEditRequest = {
      request_id: UUID.uuid4(),
      cells: [],
      ...collectNotebook(this.panel),
      edits,
      ...(maxTokens > 0 ? { max_tokens: maxTokens } : {})
    };
    // The cells as sent, by id: the server's cell_index counts these, not the cells
    // there are when its answer arrives (one may have been inserted or deleted since).
    const sentIds = this._cellIds();
    this._inflight = { id: body.request_id, controller };
    this._seen.clear();
    const started = performance.now();
    try {
      const events = streamAPI('next-edit', body, controller.signal);
      for await (const raw of events) {
        const event = raw as NextEditStreamEvent;
        if (event.type === 'proposals' || event.type === 'done') {
          this._add(event.proposals ?? [], sentIds, body.request_id, started);
        } else if (event.type === 'error') {
          console.warn('jupyter-assist: next edit failed:', event.message);
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        console.warn('jupyter-assist: next edit failed:', error);
      }
    } finally {
      if (this._inflight?.controller === controller) {
        this._inflight = null;
      }
    }
  }

  private _abort(): void {
    const job = this._inflight;
    this._inflight = null;
    if (job) {
      job.controller.abort();
      cancelRequest(job.id);
    }
  }

  /** Ids of the notebook's cells, in order. */
  private _cellIds(): string[] {
    const ids: string[] = [];
    const cells = this.panel.content.model?.cells;
    for (let i = 0; cells && i < cells.length; i++) {
      ids.push(cells.get(i).id);
    }
    return ids;
  }

  /**
   * Show new proposals whose lines are still what the server saw, each in the cell it
   * was made for (`sentIds[cell_index]`); one whose cell is gone or changed is dropped.
   */
  private _add(list: INextEditProposal[], sentIds: string[], requestId: string, t0: number): void {
    const cells = this.panel.content.model?.cells;
    if (!cells || this._disposed) {
      return;
    }
    const latency = Math.round(performance.now() - t0);
    for (const p of list) {
      const index = this._indexOf(sentIds[p.cell_index] ?? '');
      if (index < 0) {
        continue;
      }
      const cell = cells.get(index);
      const key = `${cell.id}:${p.start_line}:${p.end_line}:${p.new.join('\n')}`;
      if (this._seen.has(key)) {
        continue;
      }
      this._seen.add(key);
      const lines = cell.sharedModel.getSource().split('\n');
      if (!sameLines(lines.slice(p.start_line, p.end_line), p.old)) {
        continue;
      }
      const outcome = new SuggestionOutcome(requestId, 'next-edit');
      this._pending.push({
        cellId: cell.id,
        startLine: p.start_line,
        endLine: p.end_line,
        old: p.old,
        new: p.new,
        outcome
      });
      outcome.shown({ latency_ms: latency, chars: p.new.join('\n').length });
    }
    this._render();
  }

  /** Pending proposals in notebook order, from the cursor on, wrapping around. */
  private _ordered(): IPending[] {
    const withIndex = this._pending
      .map(p => ({ p, index: this._indexOf(p.cellId) }))
      .filter(x => x.index >= 0)
      .sort((a, b) => a.index - b.index || a.p.startLine - b.p.startLine);
    const content = this.panel.content;
    const active = content.activeCellIndex;
    const line = content.activeCell?.editor?.getCursorPosition().line ?? 0;
    const from = withIndex.findIndex(x => x.index > active || (x.index === active && x.p.endLine > line));
    const ordered = withIndex.map(x => x.p);
    return from > 0 ? [...ordered.slice(from), ...ordered.slice(0, from)] : ordered;
  }

  /** Decorate every code cell editor with its proposals (none: cleared). */
  private _render(): void {
    const content = this.panel.content;
    setHint(
      assistSettings.current.nextEdit.acceptKey === 'Tab'
        ? 'Tab to accept, Esc to dismiss'
        : 'Accept with the next-edit shortcut, Esc to dismiss'
    );
    const next = this._ordered()[0];
    for (const widget of content.widgets) {
      const view = viewOf(widget.editor);
      if (!view || widget.model.type !== 'code') {
        continue;
      }
      const id = widget.model.id;
      const shown: IShownProposal[] = this._pending
        .filter(p => p.cellId === id)
        .map(p => ({
          startLine: p.startLine,
          endLine: p.endLine,
          newLines: p.new,
          active: p === next
        }));
      if (shown.length === 0 && !this._decorated.has(view)) {
        continue;
      }
      this._install(view);
      view.dispatch({ effects: setProposals.of(shown) });
      if (shown.length > 0) {
        this._decorated.add(view);
      } else {
        this._decorated.delete(view);
      }
    }
    // Tab must reach us from the cell the user is in, proposals there or not.
    const activeView = viewOf(content.activeCell?.editor);
    if (activeView && this._pending.length > 0) {
      this._install(activeView);
    }
    this.panel.node.classList.toggle('jp-assist-nextedit-pending', this._pending.length > 0);
  }

  private _install(view: EditorView): void {
    if (this._installed.has(view)) {
      return;
    }
    this._installed.add(view);
    view.dispatch({
      effects: StateEffect.appendConfig.of(
        nextEditExtension({
          accept: v => assistSettings.current.nextEdit.acceptKey === 'Tab' && this._accept(v),
          dismiss: () => this._dismiss()
        })
      )
    });
  }

  /** Whether a proposal is pending (the accept command is enabled). */
  get pending(): boolean {
    return this._pending.length > 0;
  }

  /** The accept command (an explicit shortcut): as Tab, from the active cell. */
  acceptFromCommand(): boolean {
    const view = viewOf(this.panel.content.activeCell?.editor);
    return view ? this._accept(view) : false;
  }

  /**
   * Tab: accept the next proposal that still applies. Accepting writes that one change
   * only; it asks for nothing new (`_applying`): proposals come from the user's typing.
   */
  private _accept(view: EditorView): boolean {
    if (this._pending.length === 0) {
      return false;
    }
    // Ghost text or the completer's list showing: Tab is theirs (in that order: both
    // are JupyterLab's own Tab bindings, which run when this returns false).
    if (view.dom.closest('.jp-mod-inline-completer-active, .jp-mod-completer-active')) {
      return false;
    }
    for (const p of this._ordered()) {
      this._pending = this._pending.filter(x => x !== p);
      if (this._apply(p)) {
        this._render();
        return true;
      }
    }
    this._render();
    return true; // every proposal was stale: swallow this Tab, they are gone now
  }

  /** Replace the proposal's lines if they are still there; false when they are not. */
  private _apply(p: IPending): boolean {
    const content = this.panel.content;
    const index = this._indexOf(p.cellId);
    if (index < 0) {
      return false;
    }
    const cell = content.model!.cells.get(index);
    const source = cell.sharedModel.getSource();
    const lines = source.split('\n');
    if (!sameLines(lines.slice(p.startLine, p.endLine), p.old)) {
      return false; // the text changed since: never overwrite it
    }
    const next = [...lines.slice(0, p.startLine), ...p.new, ...lines.slice(p.endLine)].join('\n');
    // Only the differing span is replaced: one small change, one undo step.
    this._applying = true;
    try {
      replaceSource(cell.sharedModel, next);
    } finally {
      this._applying = false;
    }
    // Later proposals in this cell move with the lines added or removed.
    const delta = p.new.length - (p.endLine - p.startLine);
    for (const q of this._pending) {
      if (q.cellId === p.cellId && q.startLine >= p.endLine) {
        q.startLine += delta;
        q.endLine += delta;
      }
    }
    this._moveTo(index, p.startLine + Math.max(p.new.length - 1, 0), p.new);
    p.outcome.accepted({ latency_ms: Math.round(p.outcome.sinceShown()), chars: p.new.join('\n').length });
    return true;
  }

  /** Activate the cell and put the cursor at the end of the accepted text. */
  private _moveTo(index: number, line: number, newLines: string[]): void {
    const content = this.panel.content;
    if (content.activeCellIndex !== index) {
      content.activeCellIndex = index;
    }
    content.mode = 'edit';
    const widget = content.widgets[index];
    void content.scrollToCell(widget);
    const editor = widget.editor;
    if (editor) {
      const last = newLines.length > 0 ? newLines[newLines.length - 1] : '';
      editor.setCursorPosition({ line, column: last.length });
      editor.focus();
    }
  }

  /** Esc: drop every proposal. */
  private _dismiss(): boolean {
    if (this._pending.length === 0) {
      return false;
    }
    this._abort();
    this._clear('rejected');
    this._edits = []; // the user said no: the same edits must not bring them back
    return true;
  }

  private _clear(event: 'rejected' | null, deferRender = false): void {
    if (this._pending.length === 0) {
      return;
    }
    if (event) {
      for (const p of this._pending) {
        p.outcome.rejected();
      }
    }
    this._pending = [];
    if (deferRender) {
      void Promise.resolve().then(() => this._render());
    } else {
      this._render();
    }
  }

  private _dispose(): void {
    this._disposed = true;
    assistSettings.changed.disconnect(this._onSettings, this);
    this._abort();
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
  }

  private _known = new Map<string, string>();
  private _bursts = new Map<string, string>();
  private _edits: IEdit[] = [];
  private _pending: IPending[] = [];
  private _seen = new Set<string>();
  private _inflight: { id: string; controller: AbortController } | null = null;
  private _timer: number | null = null;
  private _applying = false;
  private _disposed = false;
  private _installed = new WeakSet<EditorView>();
  private _decorated = new Set<EditorView>();
}

export const nextEditPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-assist:next-edit',
  description: 'Proposes the follow-up edits after a change; Tab accepts, Esc dismisses.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const sessions = new WeakMap<NotebookPanel, NextEditSession>();
    tracker.widgetAdded.connect((_, panel) => {
      sessions.set(panel, new NextEditSession(panel));
    });
    const current = () => {
      const panel = tracker.currentWidget;
      return panel ? sessions.get(panel) : undefined;
    };
    app.commands.addCommand(ACCEPT_COMMAND, {
      label: 'Accept Next Edit',
      caption: 'Accept the next proposed follow-up edit',
      isEnabled: () => !!current()?.pending,
      execute: () => {
        current()?.acceptFromCommand();
      }
    });
  }
};
