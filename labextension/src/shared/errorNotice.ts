// One way to show a failed request: what happened, what to do, and Retry.
// Shared by the status panel, edit/fix and chat (chat.ts can use it as is).
import { ServerConnection } from '@jupyterlab/services';

import { APIError } from './api';

export interface IErrorAdvice {
  /** What happened, in the user's terms. */
  message: string;
  /** What to do about it. */
  hint: string;
  /** Whether trying again can help (false: e.g. a request the server rejects as is). */
  retryable: boolean;
}

/** Turn any thrown value from a jupyter-assist request into advice. */
export function describeError(error: unknown): IErrorAdvice {
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof ServerConnection.NetworkError || (error instanceof TypeError && /fetch|network/i.test(text))) {
    return {
      message: 'The Jupyter server cannot be reached.',
      hint: 'Check that jupyter lab is still running (restart it if it stopped), then Retry.',
      retryable: true
    };
  }
  if (error instanceof APIError) {
    if (error.status === 503) {
      const failed = /failed to load/i.test(text);
      return {
        message: text,
        hint: failed
          ? 'Open the Assistant status (click it in the status bar) for the cause, or pick another model there.'
          : 'Wait until the status bar says ready, then Retry.',
        retryable: true
      };
    }
    if (error.status === 413) {
      return {
        message: text,
        hint: 'The notebook sent is too large: clear big outputs or split the notebook, then Retry.',
        retryable: true
      };
    }
    if (error.status === 403) {
      return {
        message: text,
        hint: 'Your session is no longer authorized: reload the page (log in again), then Retry.',
        retryable: true
      };
    }
    if (error.status >= 500) {
      return {
        message: `The server failed: ${text}`,
        hint: 'The server log has the details; Retry, or restart jupyter lab if it keeps failing.',
        retryable: true
      };
    }
    return { message: text, hint: 'Change the request and try again.', retryable: false };
  }
  return {
    message: text || 'Something went wrong.',
    hint: 'Retry; the server log may say more.',
    retryable: true
  };
}

export interface IErrorNoticeOptions {
  /** What was being done, e.g. 'Edit'. */
  action?: string;
  /** Called by the Retry button (the notice removes itself first). */
  retry?: () => void;
}

/**
 * A notice element (role="alert", so screen readers announce it) with the
 * error, the advice and, when `retry` is given and it can help, a Retry button.
 */
export function errorNotice(error: unknown, options: IErrorNoticeOptions = {}): HTMLElement {
  const advice = describeError(error);
  const box = document.createElement('div');
  box.className = 'jp-assist-error';
  box.setAttribute('role', 'alert');
  const message = document.createElement('div');
  message.className = 'jp-assist-error-message';
  message.textContent = options.action ? `${options.action} failed: ${advice.message}` : advice.message;
  const hint = document.createElement('div');
  hint.className = 'jp-assist-error-hint';
  hint.textContent = advice.hint;
  box.append(message, hint);
  if (options.retry && advice.retryable) {
    const retry = options.retry;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-Button jp-mod-styled jp-mod-accept jp-assist-retry';
    button.textContent = 'Retry';
    button.addEventListener('click', () => {
      box.remove();
      retry();
    });
    box.appendChild(button);
  }
  return box;
}
