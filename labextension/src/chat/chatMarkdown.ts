// Markdown for chat answers through JupyterLab's rendermime: the same parser, code
// highlighting and sanitizer as a markdown cell. Model and notebook text are untrusted,
// so every model is rendered with `trusted: false` (the sanitizer strips scripts and
// event-handler attributes such as `onerror`).
import { MimeModel } from '@jupyterlab/rendermime';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

const MARKDOWN = 'text/markdown';

/** Render `markdown` into `host` (replacing its children). */
export type MarkdownRender = (host: HTMLElement, markdown: string) => Promise<void>;

/** Rendermime's markdown renderer, or plain text where there is no markdown renderer. */
export function markdownRenderer(rendermime: IRenderMimeRegistry | null): MarkdownRender {
  if (!rendermime || !rendermime.mimeTypes.includes(MARKDOWN)) {
    return plainText;
  }
  return async (host, markdown) => {
    const renderer = rendermime.createRenderer(MARKDOWN);
    await renderer.renderModel(new MimeModel({ data: { [MARKDOWN]: markdown }, trusted: false }));
    host.replaceChildren(renderer.node);
  };
}

/** Text nodes only: nothing is parsed as HTML. */
export const plainText: MarkdownRender = async (host, markdown) => {
  host.textContent = markdown;
};

/**
 * A fenced block holding exactly `code`: the fence is longer than any backtick run in
 * it, so the code cannot close it early. No language: the notebook's (python), so the
 * block is highlighted as the editor would.
 */
export function fence(code: string, lang: string): string {
  const longest = Math.max(0, ...(code.match(/`+/g) ?? []).map(run => run.length));
  const marks = '`'.repeat(Math.max(3, longest + 1));
  return `${marks}${lang || 'python'}\n${code}\n${marks}`;
}
