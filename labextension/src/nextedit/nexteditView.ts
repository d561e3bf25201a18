// Next-edit proposals inside one cell editor, shown compactly: only the changed tokens,
// inline (the old ones struck through, the new ones after them), and the Tab/Esc keymap
// while any are pending.
import { Prec, StateEffect, StateField } from '@codemirror/state';
import type { Extension, Range, Text } from '@codemirror/state';
import { Decoration, EditorView, WidgetType, keymap } from '@codemirror/view';
import type { DecorationSet } from '@codemirror/view';

import { compactChange } from './nexteditCompact';
import type { IChange } from './nexteditCompact';

/** One proposal as this editor shows it (lines of its current document, 0-based). */
export interface IShownProposal {
  startLine: number;
  endLine: number;
  newLines: string[];
  /** The one the accept key takes next: it carries the hint. */
  active: boolean;
}

/** Replace the proposals shown in an editor (an empty list clears them). */
export const setProposals = StateEffect.define<IShownProposal[]>();

/** What the hint next to the active proposal says (the accept key is a setting). */
let hintText = 'Tab to accept, Esc to dismiss';

export function setHint(text: string): void {
  hintText = text;
}

/** The document span a proposal replaces and its new text (line ranges -> offsets). */
export function proposalChange(doc: Text, p: IShownProposal): IChange {
  const text = p.newLines.join('\n');
  if (p.endLine > p.startLine) {
    let from = doc.line(p.startLine + 1).from;
    let to = doc.line(p.endLine).to;
    if (p.newLines.length === 0) {
      // Deleting whole lines: a line break goes with them.
      if (p.endLine < doc.lines) {
        to = doc.line(p.endLine + 1).from;
      } else if (p.startLine > 0) {
        from = doc.line(p.startLine).to;
      }
    }
    return { from, to, insert: text };
  }
  if (p.startLine < doc.lines) {
    const at = doc.line(p.startLine + 1).from;
    return { from: at, to: at, insert: text + '\n' };
  }
  return { from: doc.length, to: doc.length, insert: '\n' + text };
}

class InsertWidget extends WidgetType {
  constructor(
    readonly text: string,
    readonly active: boolean,
    readonly hint: string
  ) {
    super();
  }

  eq(other: InsertWidget): boolean {
    return other.active === this.active && other.text === this.text && other.hint === this.hint;
  }

  toDOM(): HTMLElement {
    // textContent only: model output is untrusted and never parsed as HTML.
    const box = document.createElement('span');
    box.className = 'jp-assist-nextedit';
    const ins = document.createElement('span');
    ins.className = 'jp-assist-nextedit-new';
    if (this.active) {
      ins.classList.add('jp-mod-active');
    }
    ins.textContent = this.text;
    box.appendChild(ins);
    if (this.active) {
      const hint = document.createElement('span');
      hint.className = 'jp-assist-nextedit-hint';
      hint.textContent = this.hint;
      box.appendChild(hint);
    }
    return box;
  }

  ignoreEvent(): boolean {
    return false;
  }
}

const deleted = Decoration.mark({ class: 'jp-assist-nextedit-old' });

function build(doc: Text, shown: IShownProposal[]): DecorationSet {
  const ranges: Range<Decoration>[] = [];
  for (const p of shown) {
    if (p.startLine < 0 || p.endLine > doc.lines || p.startLine > p.endLine) {
      continue; // the document changed under it; the controller drops it
    }
    const whole = proposalChange(doc, p);
    const c = compactChange(doc.sliceString(whole.from, whole.to), whole.insert);
    const from = whole.from + c.from;
    const to = whole.from + c.to;
    if (to > from) {
      ranges.push(deleted.range(from, to));
    }
    const widget = new InsertWidget(c.insert, p.active, p.active ? hintText : '');
    ranges.push(Decoration.widget({ widget, side: 1 }).range(to));
  }
  return Decoration.set(ranges, true);
}

const proposalsField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    for (const effect of tr.effects) {
      if (effect.is(setProposals)) {
        return build(tr.state.doc, effect.value);
      }
    }
    return value.map(tr.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

/** What the accept key and Esc do; each returns false to leave the key to the editor. */
export interface IKeyHandlers {
  /** `key`: 'Tab' (the only key bound here; an explicit shortcut is a command). */
  accept(view: EditorView, key: 'Tab'): boolean;
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
        { key: 'Tab', run: view => handlers.accept(view, 'Tab') },
        { key: 'Escape', run: view => handlers.dismiss(view) }
      ])
    )
  ];
}
