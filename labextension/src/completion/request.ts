// What an inline completion request asks: the text around the cursor, the language and,
// in a notebook, the other cells (the server's `complete` body).
import type { CompletionHandler, IInlineCompletionContext } from '@jupyterlab/completer';
import { Text } from '@jupyterlab/coreutils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { UUID } from '@lumino/coreutils';

import { collectNotebook, languageFromMime, notebookLanguage } from '../shared/context';
import { assistSettings } from '../shared/settings';
import type { ISourceHolder } from '../shared/telemetry';
import type { ICompleteRequest } from '../shared/types';

/** The cell text before and after the cursor. */
export function splitAtCursor(request: CompletionHandler.IRequest): [string, string] {
  // `request.offset` counts Unicode code points, not UTF-16 units.
  const cursor = Text.charIndexToJsIndex(request.offset, request.text);
  return [request.text.slice(0, cursor), request.text.slice(cursor)];
}

/** The cell's shared model in a notebook (for the survival check). */
export function cellHolder(context: IInlineCompletionContext): ISourceHolder | null {
  const widget = context.widget;
  if (widget instanceof NotebookPanel) {
    return widget.content.activeCell?.model.sharedModel ?? null;
  }
  return null;
}

export function completeBody(request: CompletionHandler.IRequest, context: IInlineCompletionContext): ICompleteRequest {
  const [prefix, suffix] = splitAtCursor(request);
  const mimeLanguage = languageFromMime(request.mimeType);
  const body: ICompleteRequest = {
    request_id: UUID.uuid4(),
    prefix,
    suffix,
    language: mimeLanguage
  };
  const widget = context.widget;
  if (widget instanceof NotebookPanel) {
    Object.assign(body, collectNotebook(widget));
    // Code cells speak the kernel's language; markdown cells stay markdown.
    if (mimeLanguage !== 'markdown') {
      body.language = notebookLanguage(widget) ?? mimeLanguage;
    }
  }
  const maxTokens = assistSettings.current.ghostText.maxTokens;
  if (maxTokens > 0) {
    body.max_tokens = maxTokens;
  }
  return body;
}
