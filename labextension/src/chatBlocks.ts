// Assistant text -> prose and fenced code blocks, rendered as text nodes only: model
// output is untrusted and never parsed as HTML.

/** A run of prose, or a fenced code block (`closed` false while it still streams). */
export type Segment =
  | { type: 'prose'; text: string }
  | { type: 'code'; lang: string; code: string; closed: boolean };

// An opening fence: 3+ backticks or tildes, an optional info string, at a line start.
const OPEN = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\n]*)$/;

/** Split markdown-ish text at its fenced code blocks (CommonMark fence rules, simplified). */
export function splitFences(text: string): Segment[] {
  const segments: Segment[] = [];
  const lines = text.split('\n');
  let prose: string[] = [];
  let i = 0;
  const flushProse = () => {
    const joined = prose.join('\n');
    if (joined.trim()) {
      segments.push({ type: 'prose', text: joined });
    }
    prose = [];
  };
  while (i < lines.length) {
    const open = OPEN.exec(lines[i]);
    if (!open) {
      prose.push(lines[i]);
      i++;
      continue;
    }
    flushProse();
    const fence = open[1];
    const lang = open[2].trim().split(/\s+/)[0] ?? '';
    const body: string[] = [];
    let closed = false;
    i++;
    while (i < lines.length) {
      const line = lines[i];
      i++;
      // A closing fence: the same character, at least as long, nothing after it.
      const trimmed = line.trim();
      if (
        trimmed.length >= fence.length &&
        trimmed === fence[0].repeat(trimmed.length)
      ) {
        closed = true;
        break;
      }
      body.push(line);
    }
    segments.push({ type: 'code', lang, code: body.join('\n'), closed });
  }
  flushProse();
  return segments;
}

/** What a code block's buttons do; the plugin supplies them (it knows the notebook). */
export interface ICodeActions {
  apply(code: string): Promise<void>;
  insertBelow(code: string): void;
  copy(code: string): void;
}

function actionButton(
  label: string,
  className: string,
  title: string,
  onClick: () => void
): HTMLButtonElement {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = `jp-Button jp-mod-minimal jp-mod-styled jp-assist-chat-action ${className}`;
  node.textContent = label;
  node.title = title;
  node.addEventListener('click', onClick);
  return node;
}

/**
 * Render `text` into `host` (replacing its children). Complete code blocks get
 * "Apply to cell", "Insert below" and "Copy"; a block still streaming gets none.
 * `onError` shows an action's failure next to the message.
 */
export function renderAnswer(
  host: HTMLElement,
  text: string,
  actions: ICodeActions | null,
  onError: (message: string) => void
): void {
  const nodes: HTMLElement[] = [];
  for (const segment of splitFences(text)) {
    if (segment.type === 'prose') {
      const prose = document.createElement('div');
      prose.className = 'jp-assist-chat-prose';
      prose.textContent = segment.text;
      nodes.push(prose);
      continue;
    }
    const block = document.createElement('div');
    block.className = 'jp-assist-chat-code';
    block.dataset.lang = segment.lang;
    const pre = document.createElement('pre');
    const code = document.createElement('code');
    code.textContent = segment.code;
    pre.appendChild(code);
    block.appendChild(pre);
    if (actions && segment.closed) {
      const source = segment.code;
      const bar = document.createElement('div');
      bar.className = 'jp-assist-chat-code-actions';
      bar.append(
        actionButton(
          'Apply to cell',
          'jp-assist-chat-apply',
          'Review this code as a diff in the active cell',
          () => {
            actions.apply(source).catch(error => onError(errorText(error)));
          }
        ),
        actionButton(
          'Insert below',
          'jp-assist-chat-insert',
          'Insert a new code cell with this code below the active cell (not run)',
          () => {
            try {
              actions.insertBelow(source);
            } catch (error) {
              onError(errorText(error));
            }
          }
        ),
        actionButton('Copy', 'jp-assist-chat-copy', 'Copy the code', () =>
          actions.copy(source)
        )
      );
      block.insertBefore(bar, pre);
    }
    nodes.push(block);
  }
  host.replaceChildren(...nodes);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
