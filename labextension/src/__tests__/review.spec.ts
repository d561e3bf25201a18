import { YNotebook } from '@jupyter/ydoc';
import type { YCodeCell } from '@jupyter/ydoc';
import { EditorView } from '@codemirror/view';
import type { Cell } from '@jupyterlab/cells';
import { Signal } from '@lumino/signaling';

import { openReview, once } from '../review/review';
import type { IProposalStream } from '../review/proposals';
import type { ReviewOutcome } from '../review/review';
import type { ITelemetryEvent } from '../shared/types';

// JupyterLab's theme highlight style only (ES modules jest does not transform); the fake
// cell has no CodeMirror editor, so the review shows plain text anyway.
jest.mock('@jupyterlab/codemirror', () => ({ jupyterHighlightStyle: null }));
const mockRequestAPI = jest.fn((..._args: unknown[]) => Promise.resolve({}));
jest.mock('../shared/api', () => ({
  ...jest.requireActual('../shared/api'),
  requestAPI: (...args: unknown[]) => mockRequestAPI(...args)
}));

/** The telemetry POSTs so far (report() sends them from a timer when idle). */
function sent(): ITelemetryEvent[] {
  return mockRequestAPI.mock.calls
    .filter(([route]) => route === 'telemetry')
    .map(([, init]) => JSON.parse((init as RequestInit).body as string));
}

/** The little of a notebook cell a review uses, over a real shared cell model. */
function fakeCell(source: string): { cell: Cell; model: YCodeCell } {
  // ydoc reads the text before the cell joins its document (JupyterLab logs the same).
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const model = YNotebook.create().insertCell(0, { cell_type: 'code', source }) as YCodeCell;
  warn.mockRestore();
  const node = document.createElement('div');
  document.body.appendChild(node);
  const disposed = new Signal<unknown, void>({});
  const cell = { node, model: { sharedModel: model }, disposed, isDisposed: false, editor: null, inputArea: null };
  return { cell: cell as unknown as Cell, model };
}

/** A stream that yields what the test pushes, until it ends or is cancelled. */
function controlled(requestId: string) {
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  async function* proposals(): AsyncGenerator<string, void, undefined> {
    while (!ended) {
      if (queue.length) {
        yield queue.shift()!;
      } else {
        await new Promise<void>(resolve => (wake = resolve));
      }
    }
  }
  const stop = () => {
    ended = true;
    wake?.();
  };
  const stream: IProposalStream = { requestId, proposals: proposals(), cancel: stop };
  return {
    stream,
    push: (text: string) => {
      queue.push(text);
      wake?.();
    }
  };
}

async function until(what: () => boolean, label: string): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) {
    await new Promise(resolve => setTimeout(resolve, 5));
  }
  if (!what()) {
    throw new Error(`timed out waiting for ${label}`);
  }
}

const ORIGINAL = ['a = 1', 'b = 2', 'c = 3', 'd = 4', 'e = 5'].join('\n') + '\n';
// The first proposal: every line changed.
const PROPOSAL = ['a = 10', 'b = 20', 'c = 30', 'd = 40', 'e = 50'].join('\n') + '\n';

describe('review', () => {
  beforeEach(() => mockRequestAPI.mockClear());

  it('stopping a follow-up keeps the unreached lines of the proposal it refines', async () => {
    const { cell, model } = fakeCell(ORIGINAL);
    const refined = controlled('refine-1');
    const refineFrom: string[] = [];
    const done: Promise<ReviewOutcome> = openReview({
      cell,
      label: 'Edit: times ten',
      task: 'edit',
      proposals: once(PROPOSAL),
      requestId: 'edit-1',
      refine: (current: string) => {
        refineFrom.push(current);
        return refined.stream;
      }
    });
    const root = cell.node.querySelector<HTMLElement>('.jp-assist-review')!;
    const view = EditorView.findFromDOM(root.querySelector<HTMLElement>('.cm-editor')!)!;
    const text = () => view.state.doc.toString();
    await until(() => root.dataset.state === 'ready', 'the first proposal');

    const input = root.querySelector<HTMLInputElement>('.jp-assist-review-refine-input')!;
    input.value = 'comment the first line';
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    expect(refineFrom).toEqual([PROPOSAL]);
    // The refine reached two lines: one rewritten, and the second cut mid-way.
    refined.push('a = 10  # ten\nb = ');
    await until(() => text().startsWith('a = 10  # ten'), 'the refine to stream');
    root.querySelector<HTMLButtonElement>('.jp-assist-review-stop')!.click();

    // The lines it did not reach are the proposal's (times ten), not the cell's.
    const want = ['a = 10  # ten', 'b = 20', 'c = 30', 'd = 40', 'e = 50'].join('\n') + '\n';
    expect(text()).toBe(want);
    root.querySelector<HTMLButtonElement>('.jp-assist-review-accept')!.click();
    expect(await done).toBe('accepted');
    expect(model.getSource()).toBe(want);
  });

  it('stopping the first stream keeps the cell lines; telemetry: shown, then the outcome', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const { cell } = fakeCell(ORIGINAL);
      const first = controlled('edit-2');
      const done = openReview({ cell, label: 'Edit', task: 'edit', ...first.stream });
      const root = cell.node.querySelector<HTMLElement>('.jp-assist-review')!;
      const view = EditorView.findFromDOM(root.querySelector<HTMLElement>('.cm-editor')!)!;
      first.push('a = 10\nb = 20\nc');
      for (let i = 0; i < 50 && !view.state.doc.toString().startsWith('a = 10'); i++) {
        await Promise.resolve();
      }
      root.querySelector<HTMLButtonElement>('.jp-assist-review-stop')!.click();
      const kept = ['a = 10', 'b = 20', 'c = 3', 'd = 4', 'e = 5'].join('\n') + '\n';
      expect(view.state.doc.toString()).toBe(kept);
      root.querySelector<HTMLButtonElement>('.jp-assist-review-reject')!.click();
      expect(await done).toBe('rejected');
      jest.runOnlyPendingTimers();
      const events = sent();
      expect(events.map(e => [e.event, e.request_id, e.task, e.chars])).toEqual([
        ['shown', 'edit-2', 'edit', kept.length],
        ['rejected', 'edit-2', 'edit', kept.length]
      ]);
      expect(events.every(e => typeof e.latency_ms === 'number' && e.latency_ms >= 0)).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
  it('a rewrite cut off by its length limit says so', async () => {
    const { cell } = fakeCell(ORIGINAL);
    // The server's done text for a cut-off rewrite: the changed line, then the cell's rest.
    const kept = ['a = 10', 'b = 2', 'c = 3', 'd = 4', 'e = 5'].join('\n') + '\n';
    const ending = { finishReason: 'length' as const };
    const done = openReview({ cell, label: 'Edit', task: 'edit', requestId: 'edit-3', proposals: once(kept), ending });
    const root = cell.node.querySelector<HTMLElement>('.jp-assist-review')!;
    await until(() => root.dataset.state === 'ready', 'the proposal');
    const message = root.querySelector<HTMLElement>('.jp-assist-review-message')!;
    expect(message.hidden).toBe(false);
    expect(message.textContent).toContain('Cut off at its length limit');
    root.querySelector<HTMLButtonElement>('.jp-assist-review-reject')!.click();
    expect(await done).toBe('rejected');
  });
});
