// Assistant text -> prose and fenced code blocks. Each piece is rendered as markdown
// through rendermime (chatMarkdown.ts: untrusted, sanitized); code blocks get the
// Apply/Insert/Copy buttons over the code they hold.
import { fence, MarkdownRender } from './chatMarkdown';

/** A run of prose, or a fenced code block (`closed` false while it still streams). */
export type Segment = { type: 'prose'; text: string } | { type: 'code'; lang: string; code: string; closed: boolean };

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
      if (trimmed.length >= fence.length && trimmed === fence[0].repeat(trimmed.length)) {
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

const COPIED_MS = 1500;

function actionButton(
  label: string,
  className: string,
  title: string,
  onClick: (button: HTMLButtonElement) => void
): HTMLButtonElement {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = `jp-Button jp-mod-minimal jp-mod-styled jp-assist-chat-action ${className}`;
  node.textContent = label;
  node.title = title;
  node.addEventListener('click', () => onClick(node));
  return node;
}

function actionBar(source: string, actions: ICodeActions, onError: (message: string) => void): HTMLDivElement {
  const bar = document.createElement('div');
  bar.className = 'jp-assist-chat-code-actions';
  bar.append(
    actionButton('Apply to cell', 'jp-assist-chat-apply', 'Review this code as a diff in the active cell', () => {
      actions.apply(source).catch(error => onError(errorText(error)));
    }),
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
    actionButton('Copy', 'jp-assist-chat-copy', 'Copy the code', button => {
      try {
        actions.copy(source);
      } catch (error) {
        onError(errorText(error));
        return;
      }
      // Say it worked: the clipboard itself shows nothing.
      button.textContent = 'Copied';
      button.classList.add('jp-mod-copied');
      window.setTimeout(() => {
        button.textContent = 'Copy';
        button.classList.remove('jp-mod-copied');
      }, COPIED_MS);
    })
  );
  return bar;
}

/** One rendered segment, kept while its text (and whether it has buttons) is unchanged. */
interface IRendered {
  key: string;
  node: HTMLElement;
}

/**
 * An answer as markdown, re-rendered as it streams. Only segments whose text changed are
 * rendered again (while streaming, the last one), and renders never overlap: a newer text
 * given meanwhile is rendered next, intermediate ones are skipped.
 */
export class AnswerView {
  constructor(
    readonly host: HTMLElement,
    private readonly render: MarkdownRender,
    private readonly onError: (message: string) => void
  ) {}

  /**
   * Show `text`. `actions` null: still streaming (no buttons); given: the answer is final
   * and every code block gets buttons, an unclosed one too (a cut-off answer's code).
   * Resolves once this text, or a newer one, is shown.
   */
  update(text: string, actions: ICodeActions | null): Promise<void> {
    this._wanted = { text, actions };
    if (!this._running) {
      this._running = this._drain().finally(() => (this._running = null));
    }
    return this._running;
  }

  private async _drain(): Promise<void> {
    while (this._wanted) {
      const { text, actions } = this._wanted;
      this._wanted = null;
      try {
        await this._show(text, actions);
      } catch (error) {
        // A renderer failure must not lose the text: show it plainly.
        console.warn('jupyter-assist: could not render the answer', error);
        this.host.textContent = text;
        this._rendered = [];
      }
    }
  }

  private async _show(text: string, actions: ICodeActions | null): Promise<void> {
    const segments = splitFences(text);
    const next: IRendered[] = [];
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      const key = JSON.stringify([segment, actions !== null]);
      const old = this._rendered[i];
      next.push(old && old.key === key ? old : { key, node: await this._segment(segment, actions) });
    }
    this._rendered = next;
    this.host.replaceChildren(...next.map(r => r.node));
  }

  private async _segment(segment: Segment, actions: ICodeActions | null): Promise<HTMLElement> {
    const node = document.createElement('div');
    if (segment.type === 'prose') {
      node.className = 'jp-assist-chat-prose';
      await this.render(node, segment.text);
      return node;
    }
    node.className = 'jp-assist-chat-code';
    node.dataset.lang = segment.lang;
    node.dataset.closed = String(segment.closed);
    const code = document.createElement('div');
    code.className = 'jp-assist-chat-code-body';
    await this.render(code, fence(segment.code, segment.lang));
    if (actions) {
      node.appendChild(actionBar(segment.code, actions, this.onError));
    }
    node.appendChild(code);
    return node;
  }

  private _rendered: IRendered[] = [];
  private _wanted: { text: string; actions: ICodeActions | null } | null = null;
  private _running: Promise<void> | null = null;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
