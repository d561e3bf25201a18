// Context chips above the chat input: what each says is exactly what is sent.
import { headWithin } from '../shared/outputCap';
import type { IAttachment } from '../shared/types';

/** Chips from the current notebook (recomputed) or added by an @-mention (kept). */
export type ChipKind = 'active-cell' | 'variables' | IAttachment['kind'];

export interface IChip {
  /** Identity: removing a chip hides this key until the context changes. */
  key: string;
  kind: ChipKind;
  /** Short text on the chip. */
  label: string;
  /** The content, shown as the chip's tooltip. */
  detail: string;
  /** What the chip sends as an attachment (absent: it maps to another field). */
  attachment?: IAttachment;
}

export const MAX_LABEL = 300; // characters, as the server accepts
export const MAX_TEXT = 64_000; // characters per attachment, as the server accepts

/** An attachment within the server's bounds (a longer text is cut and says so). */
export function attachment(kind: IAttachment['kind'], label: string, text: string): IAttachment {
  const note = '\n... (cut at 64,000 characters)';
  return {
    kind,
    // Cut between code points: half an emoji would be a lone surrogate the server refuses.
    label: headWithin(label, MAX_LABEL) || kind,
    text: text.length > MAX_TEXT ? headWithin(text, MAX_TEXT - note.length) + note : text
  };
}

/** First non-blank line of `text`, shortened for a label. */
export function firstLine(text: string, max = 40): string {
  const line = text.split('\n').find(l => l.trim()) ?? '';
  const trimmed = line.trim();
  return trimmed.length > max ? trimmed.slice(0, max - 1) + '…' : trimmed;
}

/** Renders chips with an x each; `onRemove` gets the chip's key. */
export function renderChips(host: HTMLElement, chips: IChip[], onRemove: (chip: IChip) => void): void {
  const nodes = chips.map(chip => {
    const node = document.createElement('span');
    node.className = 'jp-assist-chat-chip';
    node.dataset.kind = chip.kind;
    node.dataset.key = chip.key;
    node.title = chip.detail.slice(0, 2000);
    const label = document.createElement('span');
    label.className = 'jp-assist-chat-chip-label';
    label.textContent = chip.label;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'jp-assist-chat-chip-remove';
    remove.textContent = '×';
    remove.title = `Leave out: ${chip.label}`;
    remove.setAttribute('aria-label', `Remove ${chip.label}`);
    remove.addEventListener('click', () => onRemove(chip));
    node.append(label, remove);
    return node;
  });
  host.replaceChildren(...nodes);
}
