// The read-only CodeMirror view that shows a proposal as a unified diff against
// the cell's original text (@codemirror/merge). No cell model access here.
import { getChunks, getOriginalDoc, goToNextChunk, goToPreviousChunk, unifiedMergeView } from '@codemirror/merge';
import { language, syntaxHighlighting } from '@codemirror/language';
import { EditorState, Extension, Prec, Text } from '@codemirror/state';
import { EditorView, keymap, ViewUpdate } from '@codemirror/view';
import { jupyterHighlightStyle } from '@jupyterlab/codemirror';

export interface IReviewKeys {
  acceptAll: () => boolean;
  rejectAll: () => boolean;
  /** Stop streaming (Escape); returns false when there is nothing to stop. */
  stop: () => boolean;
}

export interface IDiffStats {
  hunks: number;
  added: number;
  removed: number;
}

/** Lines a chunk side spans in `doc` (0 when that side is empty). */
function lineSpan(doc: Text, from: number, to: number, end: number): number {
  if (to <= from) {
    return 0;
  }
  return doc.lineAt(end).number - doc.lineAt(from).number + 1;
}

/** Per-hunk accept/reject button (the merge view calls `action` on mousedown). */
function hunkButton(type: 'accept' | 'reject', action: (e: MouseEvent) => void): HTMLElement {
  const button = document.createElement('button');
  button.className = `jp-assist-review-hunk-${type}`;
  button.textContent = type === 'accept' ? 'Accept' : 'Reject';
  button.title = type === 'accept' ? 'Keep this change' : 'Restore the original lines';
  button.onmousedown = action;
  return button;
}

/**
 * The language of the cell's own editor (Python, Markdown…) with JupyterLab's
 * theme-aware highlight style, so the diff reads like the cell does.
 */
export function highlightingLike(editor: unknown): Extension[] {
  const view = (editor as { editor?: unknown } | null)?.editor;
  if (!(view instanceof EditorView)) {
    return []; // not a CodeMirror editor: plain text
  }
  const lang = view.state.facet(language);
  return lang ? [lang.extension, syntaxHighlighting(jupyterHighlightStyle)] : [];
}

export class ReviewEditor {
  readonly view: EditorView;

  constructor(
    parent: HTMLElement,
    original: string,
    keys: IReviewKeys,
    onUpdate: (update: ViewUpdate) => void,
    extensions: Extension[] = []
  ) {
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: '',
        extensions: [
          // Only "\n" splits lines, so a "\r" in the cell survives an accept.
          EditorState.lineSeparator.of('\n'),
          // The proposal is reviewed, not edited: hunk buttons still change it.
          EditorState.readOnly.of(true),
          EditorView.lineWrapping,
          unifiedMergeView({
            original,
            mergeControls: hunkButton,
            // Whole deleted/inserted lines are quicker to read than word diffs here.
            allowInlineDiffs: false,
            collapseUnchanged: { margin: 3, minSize: 6 }
          }),
          // CodeMirror sees keys before JupyterLab's shortcuts (bubbling keydown),
          // and a handled key is preventDefault-ed, so these never run or move cells.
          Prec.highest(
            keymap.of([
              { key: 'Mod-Enter', run: keys.acceptAll },
              { key: 'Mod-Backspace', run: keys.rejectAll },
              { key: 'Escape', run: keys.stop },
              { key: 'Alt-ArrowDown', run: goToNextChunk },
              { key: 'Alt-ArrowUp', run: goToPreviousChunk }
            ])
          ),
          EditorView.updateListener.of(onUpdate),
          extensions
        ]
      })
    });
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  /** Show `text` as the proposal, replacing only what differs from the shown tail. */
  setText(text: string): void {
    const doc = this.view.state.doc;
    const current = doc.toString();
    if (current === text) {
      return;
    }
    let start = 0;
    const limit = Math.min(current.length, text.length);
    while (start < limit && current.charCodeAt(start) === text.charCodeAt(start)) {
      start++;
    }
    this.view.dispatch({
      changes: { from: start, to: doc.length, insert: text.slice(start) }
    });
  }

  stats(): IDiffStats {
    const state = this.view.state;
    const chunks = getChunks(state)?.chunks ?? [];
    const original = getOriginalDoc(state);
    let added = 0;
    let removed = 0;
    for (const chunk of chunks) {
      added += lineSpan(state.doc, chunk.fromB, chunk.toB, chunk.endB);
      removed += lineSpan(original, chunk.fromA, chunk.toA, chunk.endA);
    }
    return { hunks: chunks.length, added, removed };
  }

  /** Move the cursor to the next/previous hunk and scroll it into view. */
  navigate(direction: 1 | -1): void {
    const command = direction > 0 ? goToNextChunk : goToPreviousChunk;
    command({ state: this.view.state, dispatch: tr => this.view.dispatch(tr) });
    this.view.focus();
  }

  focus(): void {
    this.view.focus();
  }

  destroy(): void {
    this.view.destroy();
  }
}
