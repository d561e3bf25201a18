// Next-edit proposals inside one cell editor: the old lines struck through, the new
// text as a block widget under them, and the Tab/Esc keymap while any are pending.
import { Prec, StateEffect, StateField } from '@codemirror/state';
import type { Extension, Range } from '@codemirror/state';
import { Decoration, EditorView, WidgetType, keymap } from '@codemirror/view';
import type { DecorationSet } from '@codemirror/view';

/** One proposal as this editor shows it (lines of its current document, 0-based). */
export interface IShownProposal {
  startLine: number;
  endLine: number;
  newLines: string[];
  /** The one Tab takes next: it carries the hint. */
  active: boolean;
}

/** Replace the proposals shown in an editor (an empty list clears them). */
export const setProposals = StateEffect.define<IShownProposal[]>();

const HINT = 'Tab to accept, Esc to dismiss';

class NewTextWidget extends WidgetType {
  constructor(
    readonly lines: string[],
    readonly active: boolean
  ) {
    super();
  }

  eq(other: NewTextWidget): boolean {
    return (
      other.active === this.active &&
      other.lines.join('\n') === this.lines.join('\n')
    );
  }

  toDOM(): HTMLElement {
    // textContent only: model output is untrusted and never parsed as HTML.
    const box = document.createElement('div');
    box.className = 'jp-assist-nextedit-new';
    if (this.active) {
      box.classList.add('jp-mod-active');
    }
    if (this.lines.length === 0) {
      const del = document.createElement('div');
      del.className = 'jp-assist-nextedit-delete';
      del.textContent = '(delete these lines)';
      box.appendChild(del);
    }
    for (const line of this.lines) {
      const row = document.createElement('div');
      row.className = 'jp-assist-nextedit-line';
      row.textContent = line || '\u200b'; // keep empty lines one line high
      box.appendChild(row);
    }
    if (this.active) {
      const hint = document.createElement('div');
      hint.className = 'jp-assist-nextedit-hint';
      hint.textContent = HINT;
      box.appendChild(hint);
    }
    return box;
  }

  ignoreEvent(): boolean {
    return false;
  }
}

const oldLine = Decoration.line({ class: 'jp-assist-nextedit-old' });

function build(
  view: { doc: EditorView['state']['doc'] },
  shown: IShownProposal[]
): DecorationSet {
  const doc = view.doc;
  const ranges: Range<Decoration>[] = [];
  for (const p of shown) {
    if (p.startLine < 0 || p.endLine > doc.lines || p.startLine > p.endLine) {
      continue; // the document changed under it; the controller drops it
    }
    for (let n = p.startLine; n < p.endLine; n++) {
      ranges.push(oldLine.range(doc.line(n + 1).from));
    }
    const widget = new NewTextWidget(p.newLines, p.active);
    if (p.endLine > p.startLine) {
      const at = doc.line(p.endLine).to;
      ranges.push(Decoration.widget({ widget, side: 1, block: true }).range(at));
    } else if (p.startLine < doc.lines) {
      const at = doc.line(p.startLine + 1).from;
      ranges.push(Decoration.widget({ widget, side: -1, block: true }).range(at));
    } else {
      ranges.push(
        Decoration.widget({ widget, side: 1, block: true }).range(doc.length)
      );
    }
  }
  return Decoration.set(ranges, true);
}

const proposalsField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    for (const effect of tr.effects) {
      if (effect.is(setProposals)) {
        return build(tr.state, effect.value);
      }
    }
    return value.map(tr.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

/** What Tab and Esc do; each returns false to leave the key to the editor. */
export interface IKeyHandlers {
  accept(view: EditorView): boolean;
  dismiss(view: EditorView): boolean;
}

/**
 * The extension to append once per editor. The keymap outranks the editor's own Tab
 * (indent, completer) but its handlers return false unless proposals are pending.
 */
export function nextEditExtension(handlers: IKeyHandlers): Extension {
  return [
    proposalsField,
    Prec.highest(
      keymap.of([
        { key: 'Tab', run: view => handlers.accept(view) },
        { key: 'Escape', run: view => handlers.dismiss(view) }
      ])
    )
  ];
}
