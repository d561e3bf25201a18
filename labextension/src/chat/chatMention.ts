// @-mentions in the chat input: typing `@` lists cells, variables and files; choosing one
// adds a chip. Arrow keys move, Enter or Tab choose, Escape closes.
import type { IChip } from './chatChips';

export interface IMentionItem {
  kind: 'cell' | 'variable' | 'file';
  /** Shown in the list and matched against what follows the `@`. */
  label: string;
  /** Secondary text (a cell's first line, a file's size). */
  detail: string;
  /** The chip it becomes (a file is read only now); throws with a message to show. */
  resolve: () => Promise<IChip>;
}

export namespace MentionPopup {
  export interface IOptions {
    input: HTMLTextAreaElement;
    /** Candidates for a query (the text after `@`); may be slow (file listing). */
    items: (query: string) => Promise<IMentionItem[]>;
    pick: (item: IMentionItem) => void;
  }
}

const MAX_ITEMS = 12;
// An `@` at the start or after a space, up to the caret.
const TRIGGER = /(^|\s)@([^\s@]*)$/;

export class MentionPopup {
  readonly node: HTMLUListElement;

  constructor(options: MentionPopup.IOptions) {
    this._options = options;
    this.node = document.createElement('ul');
    this.node.className = 'jp-assist-chat-mentions';
    this.node.setAttribute('role', 'listbox');
    this.node.hidden = true;
    const input = options.input;
    input.addEventListener('input', () => void this.update());
    // Back in the input with `@...` before the caret: show the list again.
    input.addEventListener('focus', () => void this.update());
    input.addEventListener('blur', () => {
      // Later, so a click on an item lands first; not if the focus came back meanwhile.
      window.setTimeout(() => {
        if (document.activeElement !== input) {
          this.close();
        }
      }, 200);
    });
  }

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  /** Open, filter or close the list from the text before the caret. */
  async update(): Promise<void> {
    const input = this._options.input;
    const before = input.value.slice(0, input.selectionStart ?? input.value.length);
    const match = TRIGGER.exec(before);
    if (!match) {
      this.close();
      return;
    }
    const query = match[2];
    const seq = ++this._seq;
    let items: IMentionItem[];
    try {
      items = await this._options.items(query);
    } catch (error) {
      console.warn('jupyter-assist: mention list failed', error);
      items = [];
    }
    if (seq !== this._seq) {
      return; // the user typed on: a newer query owns the list
    }
    const q = query.toLowerCase();
    this._items = items
      .filter(item => item.label.toLowerCase().includes(q) || item.detail.toLowerCase().includes(q))
      .slice(0, MAX_ITEMS);
    this._start = before.length - query.length - 1;
    this._active = 0;
    this._render();
  }

  /** Keys while the list is open; true when the key was used. */
  handleKey(event: KeyboardEvent): boolean {
    if (!this.isOpen) {
      return false;
    }
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        const n = this._items.length;
        if (n) {
          this._active = (this._active + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
          this._render();
        }
        break;
      }
      case 'Enter':
      case 'Tab':
        if (!this._items.length) {
          this.close();
          return false;
        }
        this._choose(this._active);
        break;
      case 'Escape':
        this.close();
        break;
      default:
        return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  close(): void {
    this._seq++;
    this._items = [];
    this.node.hidden = true;
    this.node.replaceChildren();
  }

  private _choose(index: number): void {
    const item = this._items[index];
    if (!item) {
      return;
    }
    // Drop the `@query` just typed: the chip replaces it.
    const input = this._options.input;
    const caret = input.selectionStart ?? input.value.length;
    input.value = input.value.slice(0, this._start) + input.value.slice(caret);
    input.selectionStart = input.selectionEnd = this._start;
    this.close();
    this._options.pick(item);
  }

  private _render(): void {
    const rows = this._items.map((item, i) => {
      const row = document.createElement('li');
      row.className = 'jp-assist-chat-mention';
      row.setAttribute('role', 'option');
      row.dataset.kind = item.kind;
      row.setAttribute('aria-selected', String(i === this._active));
      row.classList.toggle('jp-mod-active', i === this._active);
      const kind = document.createElement('span');
      kind.className = 'jp-assist-chat-mention-kind';
      kind.textContent = item.kind;
      const label = document.createElement('span');
      label.className = 'jp-assist-chat-mention-label';
      label.textContent = item.label;
      const detail = document.createElement('span');
      detail.className = 'jp-assist-chat-mention-detail';
      detail.textContent = item.detail;
      row.append(kind, label, detail);
      // mousedown, not click: it fires before the input's blur closes the list.
      row.addEventListener('mousedown', event => {
        event.preventDefault();
        this._choose(i);
      });
      return row;
    });
    if (!rows.length) {
      const empty = document.createElement('li');
      empty.className = 'jp-assist-chat-mention-empty';
      empty.textContent = 'No matching cell, variable or file';
      rows.push(empty);
    }
    this.node.replaceChildren(...rows);
    this.node.hidden = false;
    rows[this._active]?.scrollIntoView?.({ block: 'nearest' });
  }

  private _options: MentionPopup.IOptions;
  private _items: IMentionItem[] = [];
  private _active = 0;
  private _start = 0;
  private _seq = 0;
}
