// Diff review inside a cell (@codemirror/merge): the one way generated code
// reaches a cell. The proposal lives in its own view, never in the cell model
// (autosave and collaborators must not see unreviewed code); only Accept
// writes, as one undoable transaction, and only if the cell is unchanged.
import type { ViewUpdate } from '@codemirror/view';
import type { Cell } from '@jupyterlab/cells';

import type { IProposalStream } from './proposals';
import { errorNotice } from '../shared/errorNotice';
import { replaceSource } from '../shared/sourceEdit';
import { keepUnreached } from './stopKeep';
import { SuggestionOutcome } from '../shared/outcome';
import { highlightingLike, ReviewEditor } from './reviewEditor';
import type { ITelemetryEvent } from '../shared/types';

export type ReviewTask = 'edit' | 'fix' | 'chat' | 'next-edit' | 'kernel';
export type ReviewOutcome = 'accepted' | 'rejected' | 'conflict' | 'failed';

export interface IReviewRequest {
  /** Target cell; its source when the review opens is the original. */
  cell: Cell;
  /** Short header text, e.g. "Edit: add a docstring". */
  label: string;
  task: ReviewTask;
  /** Each item is the whole proposed cell text so far (streaming). */
  proposals: AsyncIterable<string>;
  /** Server request id (telemetry, cancel). */
  requestId?: string;
  /** Called when the user rejects / closes while streaming: stop the request. */
  cancel?: () => void;
  /** How the stream ended (`length`: cut off, said in the review). */
  ending?: IProposalStream['ending'];
  /** The same request again, sampled (another text): offers "Regenerate". */
  regenerate?: () => IProposalStream;
  /** `current` (the proposal shown) rewritten following `instruction`, sampled or not:
   * offers a follow-up box that refines the proposal in place. */
  refine?: (current: string, instruction: string, sampled: boolean) => IProposalStream;
}

type ReviewState = 'streaming' | 'ready' | 'error';

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform);
const MOD = IS_MAC ? '⌘' : 'Ctrl';

// Review tasks as the telemetry route names them; others are not reported.
const TELEMETRY_TASK: Partial<Record<ReviewTask, ITelemetryEvent['task']>> = {
  edit: 'edit',
  fix: 'fix',
  chat: 'chat',
  'next-edit': 'next-edit'
};

/** The telemetry of one proposal stream (local, opt-in); null for tasks not reported. */
function outcomeOf(request: IReviewRequest): SuggestionOutcome | null {
  const task = TELEMETRY_TASK[request.task];
  return request.requestId && task ? new SuggestionOutcome(request.requestId, task) : null;
}

function button(className: string, text: string, title: string, onClick: () => void): HTMLButtonElement {
  const el = document.createElement('button');
  el.type = 'button';
  el.className = `jp-assist-review-button ${className}`;
  el.textContent = text;
  el.title = title;
  // mousedown would move focus out of the review before the click.
  el.addEventListener('mousedown', e => e.preventDefault());
  el.addEventListener('click', onClick);
  return el;
}

const reviews = new WeakMap<Cell, Review>();

class Review {
  private readonly snapshot: string;
  private readonly opened = performance.now();
  private readonly root = document.createElement('div');
  private readonly stats = document.createElement('span');
  private readonly message = document.createElement('div');
  private readonly error = document.createElement('div');
  private readonly conflict = document.createElement('div');
  private readonly stopButton: HTMLButtonElement;
  private readonly acceptButton: HTMLButtonElement;
  private readonly rejectButton: HTMLButtonElement;
  private readonly regenerateButton: HTMLButtonElement;
  private readonly refineBox = document.createElement('div');
  private readonly refineInput = document.createElement('input');
  // The last follow-up: Regenerate then samples it again, not the first request.
  private lastRefine: { current: string; instruction: string } | null = null;
  // What the stream shown rewrites: the cell, or the proposal a follow-up refines.
  private rewriting: string;
  // Telemetry of the stream shown (each Regenerate or follow-up is a request of its own).
  private outcome: SuggestionOutcome | null;
  private readonly navButtons: HTMLButtonElement[];
  private readonly editor: ReviewEditor;
  private state: ReviewState = 'streaming';
  private closed = false;
  private changed = false; // the cell's source differs from the snapshot
  private resolve: (outcome: ReviewOutcome) => void = () => undefined;
  readonly done = new Promise<ReviewOutcome>(r => (this.resolve = r));

  // Replaced by Regenerate and follow-ups (their stream, request id and cancel).
  constructor(private request: IReviewRequest) {
    const { cell } = request;
    this.snapshot = cell.model.sharedModel.getSource();
    this.rewriting = this.snapshot;
    this.outcome = outcomeOf(request);

    this.root.className = 'jp-assist-review';
    this.root.dataset.task = request.task;
    this.root.setAttribute('role', 'region');
    this.root.setAttribute('aria-label', `Review proposal: ${request.label}`);
    const header = document.createElement('div');
    header.className = 'jp-assist-review-header';
    const spinner = document.createElement('span');
    spinner.className = 'jp-assist-review-spinner';
    const label = document.createElement('span');
    label.className = 'jp-assist-review-label';
    label.textContent = request.label; // user text: never parsed as HTML
    label.title = request.label;
    this.stats.className = 'jp-assist-review-stats';
    const spacer = document.createElement('span');
    spacer.className = 'jp-assist-review-spacer';
    this.navButtons = [
      button('jp-assist-review-prev', '↑', 'Previous change (Alt+↑)', () => this.editor.navigate(-1)),
      button('jp-assist-review-next', '↓', 'Next change (Alt+↓)', () => this.editor.navigate(1))
    ];
    this.stopButton = button('jp-assist-review-stop', 'Stop', 'Stop generating and review what arrived (Esc)', () =>
      this.stop()
    );
    this.acceptButton = button(
      'jp-assist-review-accept',
      'Accept all',
      `Write the proposal into the cell (${MOD}+Enter)`,
      () => this.accept()
    );
    this.rejectButton = button(
      'jp-assist-review-reject',
      'Reject all',
      `Discard the proposal; the cell stays as it was (${MOD}+Backspace)`,
      () => this.reject()
    );
    this.regenerateButton = button(
      'jp-assist-review-regenerate',
      'Regenerate',
      'Ask again: another proposal, sampled (the cell stays as it is until you accept)',
      () => this.regenerate()
    );
    header.append(
      spinner,
      label,
      this.stats,
      spacer,
      ...this.navButtons,
      this.stopButton,
      this.regenerateButton,
      this.acceptButton,
      this.rejectButton
    );
    this.buildRefineBox();
    this.message.className = 'jp-assist-review-message';
    this.error.className = 'jp-assist-review-error';
    this.conflict.className = 'jp-assist-review-conflict';
    this.conflict.textContent =
      'The cell changed while the proposal was open; nothing was overwritten. ' + 'Reject to close, then edit again.';
    for (const el of [this.message, this.error, this.conflict]) {
      el.hidden = true;
    }
    const body = document.createElement('div');
    body.className = 'jp-assist-review-editor';
    this.root.append(header, this.message, this.error, this.conflict, this.refineBox, body);

    this.editor = new ReviewEditor(
      body,
      this.snapshot,
      {
        acceptAll: () => this.accept(),
        rejectAll: () => this.reject(),
        stop: () => this.stop()
      },
      update => this.onEditorUpdate(update),
      highlightingLike(cell.editor)
    );
    // In the input area, in place of the (hidden) cell editor, so the cell's
    // prompt and collapser stay where they are.
    (cell.inputArea?.node ?? cell.node).appendChild(this.root);
    cell.node.classList.add('jp-assist-mod-reviewing');
    cell.model.sharedModel.changed.connect(this.onSourceChanged, this);
    cell.disposed.connect(this.onCellDisposed, this);
    reviews.set(cell, this);
    this.setState('streaming');
    this.editor.focus();
  }

  /** Show proposals as they stream in; resolves when the user decides. */
  run(): Promise<ReviewOutcome> {
    // Not awaited: a stalled stream must not keep Accept/Reject from resolving.
    void this.consume();
    return this.done;
  }

  private async consume(): Promise<void> {
    let failed = false;
    // A Regenerate or follow-up replaces the stream: this one's late events are dropped.
    const { proposals, ending } = this.request;
    const current = (): boolean => this.request.proposals === proposals;
    try {
      for await (const text of proposals) {
        if (this.closed || this.state !== 'streaming' || !current()) {
          break; // stopped or closed: what arrived is what gets reviewed
        }
        this.editor.setText(text);
      }
    } catch (error) {
      failed = true;
      if (!this.closed && current()) {
        // What happened, what to do, and Retry (a new proposal for the same request).
        const retry = this.request.regenerate || this.lastRefine ? () => this.regenerate() : undefined;
        const action = this.request.task === 'fix' ? 'Fix' : 'Edit';
        const unchanged = document.createElement('div');
        unchanged.textContent = 'The cell was not changed.';
        this.error.replaceChildren(errorNotice(error, { action, retry }), unchanged);
        this.error.hidden = false;
      }
    }
    if (!this.closed && this.state === 'streaming' && current()) {
      if (!failed && ending?.finishReason === 'length') {
        // Under the user's limit the server kept the lines it did not reach (tasks/unreached.py).
        const cut =
          'Cut off at its length limit. With a limit set on the settings page, the lines it did not reach stay as they were; check the rest before accepting.';
        const note = this.message.hidden ? '' : this.message.textContent;
        this.message.textContent = note ? `${note} · ${cut}` : cut; // after "Refined: …", not in its place
        this.message.hidden = false;
      }
      this.finishStreaming(failed);
    }
  }

  /** The follow-up instruction box: Enter refines the proposal shown. */
  private buildRefineBox(): void {
    this.refineBox.className = 'jp-assist-review-refine';
    const input = this.refineInput;
    input.type = 'text';
    input.className = 'jp-assist-review-refine-input';
    input.placeholder = 'Follow-up instruction (Enter refines this proposal)';
    input.setAttribute('aria-label', 'Follow-up instruction to refine the proposal');
    // Typing here must not run notebook shortcuts (Shift+Enter, Accel+Enter…).
    input.dataset.lmSuppressShortcuts = 'true';
    input.addEventListener('keydown', event => {
      event.stopPropagation(); // not the review editor's keys either
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault();
        const instruction = input.value.trim();
        if (instruction) {
          this.refine(instruction);
        }
      } else if (event.key === 'Escape') {
        event.preventDefault();
        this.editor.focus();
      }
    });
    this.refineBox.appendChild(input);
  }

  /** Another proposal for the last request (the first one, or the last follow-up), sampled. */
  private regenerate(): void {
    const { regenerate, refine } = this.request;
    const last = this.lastRefine;
    if (last && refine) {
      this.restart(
        () => refine(last.current, last.instruction, true),
        last.current,
        `Another proposal (sampled) for: ${last.instruction}`
      );
    } else if (regenerate) {
      this.restart(regenerate, this.snapshot, 'Another proposal (sampled).');
    }
  }

  /** Rewrite the proposal shown following `instruction` (diffed against the cell still). */
  private refine(instruction: string): void {
    const { refine } = this.request;
    if (!refine) {
      return;
    }
    const current = this.editor.text;
    if (this.restart(() => refine(current, instruction, false), current, `Refined: ${instruction}`)) {
      this.lastRefine = { current, instruction };
      this.refineInput.value = '';
    }
  }

  /**
   * Stream a new proposal, a rewrite of `from`, in place of the one shown; false when it
   * could not start.
   */
  private restart(start: () => IProposalStream, from: string, note: string): boolean {
    if (this.closed || this.state === 'streaming') {
      return false;
    }
    let stream: IProposalStream;
    try {
      stream = start();
    } catch (error) {
      this.error.textContent = error instanceof Error ? error.message : String(error);
      this.error.hidden = false;
      return false;
    }
    this.request = { ...this.request, ...stream };
    this.rewriting = from;
    this.outcome = outcomeOf(this.request);
    this.error.hidden = true;
    this.message.textContent = note; // user text: never parsed as HTML
    this.message.hidden = false;
    this.setState('streaming');
    this.editor.focus();
    void this.consume();
    return true;
  }

  focus(): void {
    this.editor.focus();
  }

  private finishStreaming(failed: boolean): void {
    const text = this.editor.text;
    if (failed && !text) {
      this.setState('error');
      return;
    }
    this.setState('ready');
    this.outcome?.shown({ latency_ms: this.sinceOpened(), chars: text.length });
  }

  private stop(): boolean {
    if (this.state !== 'streaming' || this.closed) {
      return false;
    }
    this.request.cancel?.();
    // What the rewrite did not reach stays as it was (the cell's lines, or a refined
    // proposal's): only the changes generated are proposed (stopKeep.ts), so Accept all
    // never deletes the rest of the cell.
    this.editor.setText(keepUnreached(this.editor.text, this.rewriting));
    this.message.textContent =
      'Stopped: only the changes generated so far are proposed; the lines it did not reach stay as they were.';
    this.message.hidden = false;
    this.finishStreaming(false);
    return true;
  }

  private accept(): boolean {
    if (this.closed || this.state !== 'ready') {
      return this.state === 'streaming'; // swallow the key while streaming
    }
    if (this.checkConflict()) {
      return true; // told the user; nothing written
    }
    const text = this.editor.text;
    if (text !== this.snapshot) {
      // checkConflict above: the cell still holds the snapshot.
      replaceSource(this.request.cell.model.sharedModel, text);
    }
    this.close('accepted', text.length);
    return true;
  }

  private reject(): boolean {
    if (this.closed) {
      return false;
    }
    if (this.state === 'streaming') {
      this.request.cancel?.();
    }
    const outcome: ReviewOutcome = this.changed ? 'conflict' : this.state === 'error' ? 'failed' : 'rejected';
    this.close(outcome, this.editor.text.length);
    return true;
  }

  /** True (and says so) when the cell no longer holds the reviewed original. */
  private checkConflict(): boolean {
    const { cell } = this.request;
    this.changed = !cell.isDisposed && cell.model.sharedModel.getSource() !== this.snapshot;
    this.conflict.hidden = !this.changed;
    this.updateControls();
    return this.changed;
  }

  private onSourceChanged(): void {
    if (!this.closed) {
      this.checkConflict();
    }
  }

  private onCellDisposed(): void {
    if (!this.closed) {
      this.request.cancel?.();
      this.close('failed', 0);
    }
  }

  private onEditorUpdate(update: ViewUpdate): void {
    this.updateControls();
    // Every hunk decided one by one: finish with the resulting text.
    const decided = update.transactions.some(tr => tr.isUserEvent('accept') || tr.isUserEvent('revert'));
    if (decided && this.editor.stats().hunks === 0) {
      // Not inside the view's update cycle: accepting destroys the view.
      setTimeout(() => {
        if (this.editor.text === this.snapshot) {
          this.reject();
        } else {
          this.accept();
        }
      });
    }
  }

  private setState(state: ReviewState): void {
    this.state = state;
    this.root.dataset.state = state;
    this.updateControls();
  }

  private updateControls(): void {
    if (this.closed) {
      return;
    }
    const failed = this.state === 'error'; // no proposal: no diff to count
    const { hunks, added, removed } = this.editor.stats();
    this.stats.textContent = failed ? '' : `+${added} −${removed} · ${hunks} ${hunks === 1 ? 'change' : 'changes'}`;
    const ready = this.state === 'ready';
    this.stopButton.hidden = this.state !== 'streaming';
    const settled = this.state !== 'streaming';
    this.regenerateButton.hidden = !settled || !(this.request.regenerate || this.lastRefine);
    this.refineBox.hidden = !settled || !this.request.refine || failed;
    this.acceptButton.disabled = !ready || this.changed || hunks === 0;
    for (const nav of this.navButtons) {
      nav.disabled = hunks === 0;
      nav.hidden = failed;
    }
    const nothing = ready && hunks === 0;
    this.rejectButton.textContent = nothing || this.changed || this.state === 'error' ? 'Close' : 'Reject all';
    if (nothing && this.message.hidden) {
      this.message.textContent = 'No changes proposed.';
      this.message.hidden = false;
    }
  }

  /** Telemetry latency: from the review's opening (whichever stream is shown). */
  private sinceOpened(): number {
    return Math.max(0, Math.round(performance.now() - this.opened));
  }

  private close(outcome: ReviewOutcome, chars: number): void {
    this.closed = true;
    const { cell } = this.request;
    cell.model.sharedModel.changed.disconnect(this.onSourceChanged, this);
    cell.disposed.disconnect(this.onCellDisposed, this);
    reviews.delete(cell);
    this.editor.destroy();
    this.root.remove();
    cell.node.classList.remove('jp-assist-mod-reviewing');
    const fields = { latency_ms: this.sinceOpened(), chars };
    if (outcome === 'accepted') {
      this.outcome?.accepted(fields);
    } else if (outcome === 'rejected') {
      this.outcome?.rejected(fields);
    }
    if (!cell.isDisposed && outcome !== 'failed') {
      cell.editor?.focus(); // back to typing (Ctrl+Z undoes an accept)
    }
    this.resolve(outcome);
  }
}

/** Whether a review is open in `cell`. */
export function isReviewing(cell: Cell): boolean {
  return reviews.has(cell);
}

/** Focus the review open in `cell`; false when there is none. */
export function focusReview(cell: Cell): boolean {
  const review = reviews.get(cell);
  review?.focus();
  return review !== undefined;
}

/** Open a review in the cell; resolves when the user accepts or rejects. */
export async function openReview(request: IReviewRequest): Promise<ReviewOutcome> {
  if (reviews.has(request.cell)) {
    request.cancel?.();
    throw new Error('A review is already open in this cell.');
  }
  return new Review(request).run();
}

/** A proposal that is already complete (chat "apply to cell"). */
export async function* once(text: string): AsyncIterable<string> {
  yield text;
}
