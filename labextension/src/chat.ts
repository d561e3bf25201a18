// Chat sidebar: plain-DOM Lumino widget streaming `POST jupyter-assist/chat`.
import { UUID } from '@lumino/coreutils';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { cancelRequest, streamText } from './api';
import { assistIcon } from './icon';
import type { IChatMessage, INotebookContext } from './types';

export const CHAT_ID = 'jupyter-assist-chat';

/** What the chat sends along with the conversation. */
export interface IChatContext {
  /** Cells and active cell index of the current notebook, if any. */
  notebook: INotebookContext;
  /** Human-readable name of that notebook, shown above the input. */
  label: string | null;
}

export namespace ChatWidget {
  export interface IOptions {
    /** Called on each send and on `refreshContext()`. */
    getContext: () => IChatContext;
  }
}

/** A request in flight. */
interface IPending {
  requestId: string;
  controller: AbortController;
}

export class ChatWidget extends Widget {
  constructor(options: ChatWidget.IOptions) {
    super();
    this._getContext = options.getContext;
    this.id = CHAT_ID;
    this.addClass('jp-assist-chat');
    this.title.icon = assistIcon;
    this.title.caption = 'Assistant';
    this.title.label = '';

    this._messagesNode = el('div', 'jp-assist-chat-messages');
    this._contextNode = el('div', 'jp-assist-chat-context');
    this._input = el('textarea', 'jp-assist-chat-input');
    this._input.rows = 3;
    this._input.placeholder =
      'Ask the assistant (Enter to send, Shift+Enter for a new line)';
    this._sendButton = button('Send', 'jp-assist-chat-send jp-mod-accept');
    this._stopButton = button('Stop', 'jp-assist-chat-stop');
    this._clearButton = button('New chat', 'jp-assist-chat-clear');
    this._stopButton.disabled = true;

    const buttons = el('div', 'jp-assist-chat-buttons');
    buttons.append(this._clearButton, this._stopButton, this._sendButton);
    const footer = el('div', 'jp-assist-chat-footer');
    footer.append(this._contextNode, this._input, buttons);
    this.node.append(this._messagesNode, footer);

    this._input.addEventListener('keydown', this._onKeydown);
    this._sendButton.addEventListener('click', () => void this.send());
    this._stopButton.addEventListener('click', () => this.stop());
    this._clearButton.addEventListener('click', () => this.clear());
    this.refreshContext();
  }

  /** Whether an answer is being streamed. */
  get isStreaming(): boolean {
    return this._pending !== null;
  }

  /** Send the input's text and stream the answer into a new message. */
  async send(): Promise<void> {
    const content = this._input.value.trim();
    if (!content || this._pending) {
      return;
    }
    this._input.value = '';
    const generation = this._generation;
    this._history.push({ role: 'user', content });
    this._appendMessage('user').textContent = content;

    const context = this._getContext();
    this._showContext(context.label);
    const pending: IPending = {
      requestId: UUID.uuid4(),
      controller: new AbortController()
    };
    this._setPending(pending);

    const text = this._appendMessage('assistant');
    const message = text.parentElement as HTMLElement;
    message.classList.add('jp-mod-streaming');
    let answer = '';
    let failure: string | null = null;
    try {
      const body = {
        request_id: pending.requestId,
        // A copy: the history may change (New chat) while we stream.
        messages: this._history.slice(),
        ...context.notebook
      };
      const stream = streamText('chat', body, pending.controller.signal);
      for await (const progress of stream) {
        answer = progress.text;
        text.textContent = answer;
        this._scrollToEnd();
      }
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      console.warn('jupyter-assist: chat failed', error);
    }
    const stopped = pending.controller.signal.aborted;
    message.classList.remove('jp-mod-streaming');
    if (this._pending === pending) {
      this._setPending(null);
    }
    if (failure) {
      message.classList.add('jp-mod-error');
      this._addNote(message, `Error: ${failure}`);
    } else if (stopped) {
      this._addNote(message, '(stopped)');
    } else if (!answer) {
      this._addNote(message, '(no answer)');
    }
    if (generation !== this._generation) {
      return; // "New chat" was pressed meanwhile: this exchange is gone.
    }
    if (answer && !failure) {
      this._history.push({ role: 'assistant', content: answer });
    } else {
      // Keep the history alternating user/assistant, as chat templates
      // expect: an unanswered question stays on screen but is not resent.
      this._dropLastUser(content);
    }
    this._scrollToEnd();
  }

  /** Stop the answer being streamed, here and on the server. */
  stop(): void {
    const pending = this._pending;
    if (!pending) {
      return;
    }
    pending.controller.abort();
    cancelRequest(pending.requestId);
  }

  /** Forget the conversation (stopping any answer in progress). */
  clear(): void {
    this.stop();
    this._generation++;
    this._history = [];
    this._messagesNode.replaceChildren();
  }

  /** Update the line naming the notebook that will be sent as context. */
  refreshContext(): void {
    this._showContext(this._getContext().label);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.stop();
    super.dispose();
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this._input.focus();
  }

  private _onKeydown = (event: KeyboardEvent): void => {
    // Enter sends; Shift+Enter (or any modifier) inserts a newline. Skip
    // while an IME composition is open: its Enter confirms the composition.
    if (
      event.key !== 'Enter' ||
      event.shiftKey ||
      event.ctrlKey ||
      event.altKey ||
      event.metaKey ||
      event.isComposing
    ) {
      return;
    }
    event.preventDefault();
    void this.send();
  };

  /** Add a message block; returns the <pre> that holds its text. */
  private _appendMessage(role: IChatMessage['role']): HTMLPreElement {
    const message = el('div', 'jp-assist-chat-message');
    message.dataset.role = role;
    // Plain text only: model output is untrusted and never parsed as HTML.
    const text = el('pre', 'jp-assist-chat-text');
    message.appendChild(text);
    this._messagesNode.appendChild(message);
    this._scrollToEnd();
    return text;
  }

  private _addNote(message: HTMLElement, note: string): void {
    const node = el('div', 'jp-assist-chat-note');
    node.textContent = note;
    message.appendChild(node);
  }

  private _dropLastUser(content: string): void {
    const last = this._history[this._history.length - 1];
    if (last && last.role === 'user' && last.content === content) {
      this._history.pop();
    }
  }

  private _setPending(pending: IPending | null): void {
    this._pending = pending;
    this._sendButton.disabled = pending !== null;
    this._stopButton.disabled = pending === null;
    this.toggleClass('jp-mod-streaming', pending !== null);
  }

  private _showContext(label: string | null): void {
    this._contextNode.textContent = label ? `Context: ${label}` : '';
    this._contextNode.title = label
      ? 'The cells of this notebook are sent with each message.'
      : '';
  }

  private _scrollToEnd(): void {
    this._messagesNode.scrollTop = this._messagesNode.scrollHeight;
  }

  private _getContext: () => IChatContext;
  private _history: IChatMessage[] = [];
  /** Bumped by "New chat" so late replies don't leak into the new history. */
  private _generation = 0;
  private _pending: IPending | null = null;
  private _messagesNode: HTMLDivElement;
  private _contextNode: HTMLDivElement;
  private _input: HTMLTextAreaElement;
  private _sendButton: HTMLButtonElement;
  private _stopButton: HTMLButtonElement;
  private _clearButton: HTMLButtonElement;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function button(label: string, className: string): HTMLButtonElement {
  const node = el('button', `jp-Button jp-mod-styled ${className}`);
  node.type = 'button';
  node.textContent = label;
  return node;
}
