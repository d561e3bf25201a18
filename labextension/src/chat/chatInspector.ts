// The prompt inspector: exactly what a chat request would send the model, and which
// context pieces were kept or dropped, with token counts. Text only (textContent).
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { assistIcon } from '../shared/icon';
import type { IPromptReply } from '../shared/types';

let counter = 0;

function cell(row: HTMLTableRowElement, value: unknown, tag: 'td' | 'th' = 'td') {
  const node = document.createElement(tag);
  node.textContent = value === undefined || value === null ? '' : String(value);
  row.appendChild(node);
  return node;
}

/** A main-area panel showing one inspector reply. */
export function inspectorWidget(reply: IPromptReply, title: string): MainAreaWidget {
  const content = new Widget();
  content.addClass('jp-assist-inspector');
  const node = content.node;

  const rows = reply.map;
  const reserve = rows.find(r => r.name === 'answer');
  const reserved = typeof reserve?.tokens === 'number' ? reserve.tokens : reply.max_tokens;
  const kept = rows.filter(r => r.kept && r.name !== 'answer' && r.name !== 'note');
  const dropped = rows.filter(r => r.kept === false && r.name !== 'note');
  const summary = document.createElement('p');
  summary.className = 'jp-assist-inspector-summary';
  summary.textContent =
    `Prompt: ${reply.prompt_tokens} tokens, + up to ${reserved} reserved for the answer = ` +
    `${reply.prompt_tokens + reserved} tokens in all. ` +
    `${kept.length} pieces kept, ${dropped.length} dropped to fit the budget.`;

  const table = document.createElement('table');
  table.className = 'jp-assist-inspector-map';
  const head = table.createTHead().insertRow();
  for (const label of ['Piece', 'Kept', 'Tokens', 'Priority', 'Note']) {
    cell(head, label, 'th');
  }
  const body = table.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    row.dataset.kept = String(Boolean(r.kept));
    cell(row, r.name);
    cell(row, r.kept ? 'kept' : 'dropped');
    cell(row, r.tokens);
    cell(row, r.priority);
    cell(row, r.note);
  }

  const heading = document.createElement('h3');
  heading.textContent = 'Rendered prompt';
  const pre = document.createElement('pre');
  pre.className = 'jp-assist-inspector-prompt';
  pre.textContent = reply.prompt; // model-facing text, shown verbatim and never as HTML

  node.append(summary, table, heading, pre);
  const widget = new MainAreaWidget({ content });
  widget.id = `jupyter-assist-inspector-${++counter}`;
  widget.title.label = title;
  widget.title.icon = assistIcon;
  widget.title.closable = true;
  widget.addClass('jp-assist-inspector-panel');
  return widget;
}
