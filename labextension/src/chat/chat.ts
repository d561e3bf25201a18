// Chat sidebar: plain-DOM Lumino widget streaming `POST jupyter-assist/chat`, with context
// chips, @-mentions, answers rendered as markdown (rendermime, sanitized) with code block
// actions, the prompt inspector, and threads per notebook kept across reloads
// (chatThreads.ts says where and why).
import type { Contents } from '@jupyterlab/services';
import type { IStateDB } from '@jupyterlab/statedb';
import { UUID } from '@lumino/coreutils';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { cancelRequest, requestAPI, streamText } from '../shared/api';
import { AnswerView, errorText, ICodeActions } from './chatBlocks';
import { attachment, firstLine, IChip, MAX_TEXT, renderChips } from './chatChips';
import { IChatContext } from './chatContext';
import { MarkdownRender, plainText } from './chatMarkdown';
import { IMentionItem, MentionPopup } from './chatMention';
import { history, IStoredMessage, IThread, newThread, ThreadStore, titleOf } from './chatThreads';
import { errorNotice } from '../shared/errorNotice';
import { assistIcon } from '../shared/icon';
import { sampling } from '../review/regenerate';
import { assistSettings } from '../shared/settings';
import type { FinishReason, IChatMessage, IChatRequest, IPromptReply } from '../shared/types';

export const CHAT_ID = 'jupyter-assist-chat';
export type { IChatContext } from './chatContext';

export namespace ChatWidget {
  export interface IOptions {
    /** Called on each send and refresh. */
    getContext: () => IChatContext;
    /** Lists and reads files for @-mentions. */
    contents: Contents.IManager;
    /** What code blocks' buttons do in the current notebook. */
    actions: ICodeActions;
    /** Shows a prompt inspector reply. */
    showInspector: (reply: IPromptReply, title: string) => void;
    /** Renders answers as markdown; without it, plain text. */
    render?: MarkdownRender;
    /** Keeps threads across reloads; without it, only while the lab is open. */
    state?: IStateDB | null;
  }
}

/** One notebook's threads. */
interface IConversation {
  key: string;
  threads: IThread[];
  /** The thread shown. */
  thread: IThread;
  /** Its messages, swapped in when its notebook is current. */
  node: HTMLDivElement;
  /** Chips added by @-mentions (kept until removed or "New chat"). */
  mentions: IChip[];
  /** Keys of automatic chips the user removed (until the context changes). */
  removed: Set<string>;
  /** Resolves once the stored threads are read (or none were). */
  loaded: Promise<void>;
}

/** A request in flight. */
interface IPending {
  requestId: string;
  controller: AbortController;
}

const FILE_LIMIT = 64 * 1024; // bytes: larger files are not offered as mentions
const LISTING_TTL_MS = 5000;

export class ChatWidget extends Widget {
  constructor(options: ChatWidget.IOptions) {
    super();
    this._options = options;
    this.id = CHAT_ID;
    this.addClass('jp-assist-chat');
    this.title.icon = assistIcon;
    this.title.caption = 'Assistant';
    this.title.label = '';

    this._render = options.render ?? plainText;
    this._store = new ThreadStore(options.state ?? null);
    this._messagesNode = el('div', 'jp-assist-chat-messages');
    // Streamed answers are announced to screen readers as they complete.
    this._messagesNode.setAttribute('role', 'log');
    this._messagesNode.setAttribute('aria-live', 'polite');
    this._threadsNode = el('select', 'jp-assist-chat-threads');
    this._threadsNode.setAttribute('aria-label', 'Chat threads of this notebook');
    this._threadsNode.title = 'Earlier chats about this notebook (kept across reloads)';
    const header = el('div', 'jp-assist-chat-header');
    header.append(this._threadsNode);
    this._contextNode = el('div', 'jp-assist-chat-context');
    this._notebookNode = el('span', 'jp-assist-chat-notebook');
    this._chipsNode = el('span', 'jp-assist-chat-chips');
    this._contextNode.append(this._notebookNode, this._chipsNode);
    this._statusNode = el('div', 'jp-assist-chat-status');
    this._input = el('textarea', 'jp-assist-chat-input');
    this._input.rows = 3;
    this._input.setAttribute('aria-label', 'Message to the assistant');
    this._input.placeholder =
      'Ask the assistant (Enter to send, Shift+Enter for a new line, @ to add a cell, variable or file)';
    this._sendButton = button('Send', 'jp-assist-chat-send jp-mod-accept');
    this._stopButton = button('Stop', 'jp-assist-chat-stop');
    this._clearButton = button('New chat', 'jp-assist-chat-clear');
    this._inspectButton = button('Show context', 'jp-assist-chat-inspect');
    this._inspectButton.title = 'Show exactly what the next message would send, with token counts';
    this._stopButton.disabled = true;
    this._mentions = new MentionPopup({
      input: this._input,
      items: () => this._mentionItems(),
      pick: item => void this._addMention(item)
    });

    const buttons = el('div', 'jp-assist-chat-buttons');
    buttons.append(this._clearButton, this._inspectButton, this._stopButton, this._sendButton);
    const footer = el('div', 'jp-assist-chat-footer');
    footer.append(this._mentions.node, this._contextNode, this._statusNode, this._input, buttons);
    this.node.append(header, this._messagesNode, footer);

    this._input.addEventListener('keydown', this._onKeydown);
    this._input.addEventListener('focus', () => this.refreshContext());
    this._sendButton.addEventListener('click', () => void this.send());
    this._stopButton.addEventListener('click', () => this.stop());
    this._clearButton.addEventListener('click', () => this.clear());
    this._inspectButton.addEventListener('click', () => void this.inspect());
    this._threadsNode.addEventListener('change', () => this._selectThread(this._threadsNode.value));
    this.refreshContext();
  }

  /** Whether an answer is being streamed. */
  get isStreaming(): boolean {
    return this._pending !== null;
  }

  /** Send the input's text and stream the answer into a new message. */
  async send(): Promise<void> {
    const content = this._input.value.trim();
    if (content) {
      await this._ask(content, this.refreshContext(), () => (this._input.value = ''));
    }
  }

  /**
   * Ask `text` as a new message of the current thread, as if typed and sent (Explain Cell
   * and other commands); the input box keeps whatever the user was typing. `context`:
   * what goes with it (default: the current notebook with the chips the user kept); a
   * given context sends all its chips, those removed earlier in this thread too. Resolves
   * once the answer is complete: true, or false when nothing was sent (an answer is
   * already streaming, or `text` is blank).
   */
  async ask(text: string, context?: IChatContext): Promise<boolean> {
    const content = text.trim();
    if (!content || this._pending) {
      return false;
    }
    if (context) {
      this._conversation(context.key).removed.clear();
      this.refreshContext(); // the chips shown: those sent
    }
    return this._ask(content, context ?? this.refreshContext());
  }

  private async _ask(content: string, context: IChatContext, onSent?: () => void): Promise<boolean> {
    if (this._pending) {
      return false;
    }
    const conversation = this._conversation(context.key);
    await conversation.loaded;
    if (this._pending) {
      return false;
    }
    onSent?.();
    const chips = this._visibleChips(context);
    const asked: IStoredMessage = { role: 'user', content };
    if (chips.length) {
      asked.note = `Context: ${chips.map(c => c.label).join(', ')}`;
    }
    conversation.thread.messages.push(asked);
    this._showMessage(conversation.node, asked);
    await this._answer(conversation, context, asked, null);
    return true;
  }

  /** Ask the last question again, sampled (temperature > 0, a fresh seed): another answer. */
  regenerate(): Promise<void> {
    return this._again(sampling());
  }

  /** Replace the thread's last answer by a new one (`sampled` null: greedy, a retry). */
  private async _again(sampled: { temperature: number; seed: number } | null): Promise<void> {
    const context = this.refreshContext();
    const conversation = this._conversation(context.key);
    const messages = conversation.thread.messages;
    const last = messages[messages.length - 1];
    const asked = messages[messages.length - 2];
    if (this._pending || last?.role !== 'assistant' || asked?.role !== 'user') {
      return;
    }
    messages.pop();
    conversation.node.lastElementChild?.remove();
    asked.unanswered = false;
    await this._answer(conversation, context, asked, sampled);
  }

  /** Stream the answer to `asked` (the thread's last message) into a new message. */
  private async _answer(
    conversation: IConversation,
    context: IChatContext,
    asked: IStoredMessage,
    sampled: { temperature: number; seed: number } | null
  ): Promise<void> {
    const thread = conversation.thread;
    const pending: IPending = { requestId: UUID.uuid4(), controller: new AbortController() };
    this._setPending(pending);
    this._updateRegenerate(conversation);

    const text = this._appendMessage(conversation.node, 'assistant');
    const message = text.parentElement as HTMLElement;
    message.classList.add('jp-mod-streaming');
    const onError = (error: string) => this._addNote(message, `Error: ${error}`, true);
    const view = new AnswerView(text, this._render, onError);
    let answer = '';
    let finish: FinishReason | undefined;
    let failure: string | null = null;
    let thrown: unknown = null;
    try {
      const body = { ...this._body(context, pending.requestId, history(thread)), ...sampled };
      const stream = streamText('chat', body, pending.controller.signal);
      for await (const progress of stream) {
        answer = progress.text;
        finish = progress.finishReason ?? finish;
        void view.update(answer, null).then(() => this._scrollToEnd());
      }
    } catch (error) {
      failure = errorText(error);
      thrown = error;
      console.warn('jupyter-assist: chat failed', error);
    }
    const stopped = pending.controller.signal.aborted;
    const stored: IStoredMessage = { role: 'assistant', content: answer };
    stored.finish = failure ? 'error' : stopped ? 'cancelled' : (finish ?? 'stop');
    if (failure) {
      stored.note = failure;
    }
    // An unanswered question stays on screen but is not resent: the history keeps
    // alternating user/assistant, as chat templates expect.
    asked.unanswered = !answer || failure !== null;
    thread.messages.push(stored);
    thread.updated = Date.now();
    thread.title = titleOf(thread);
    this._save(conversation);
    message.classList.remove('jp-mod-streaming');
    await this._finishMessage(message, view, stored, thrown);
    if (this._pending === pending) {
      this._setPending(null);
    }
    this._renderThreads(conversation);
    this._updateRegenerate(conversation);
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

  /** Start a new thread for the current notebook (stopping any answer); the
   * others stay in the thread list. */
  clear(): void {
    this.stop();
    const conversation = this._conversation(this._options.getContext().key);
    // After the stored threads are read: they must not replace the new one.
    void conversation.loaded.then(() => {
      if (conversation.thread.messages.length) {
        conversation.thread = newThread();
        conversation.threads.push(conversation.thread);
      }
      conversation.mentions = [];
      conversation.removed.clear();
      this._showThread(conversation);
      this._save(conversation);
      this._setStatus('');
      this.refreshContext();
    });
    this._input.focus();
  }

  /** Show, in the main area, exactly what sending the input now would send. */
  async inspect(): Promise<void> {
    const context = this.refreshContext();
    const conversation = this._conversation(context.key);
    const typed = this._input.value.trim();
    const messages: IChatMessage[] = [
      ...history(conversation.thread),
      { role: 'user', content: typed || '(your next message)' }
    ];
    this._setStatus('');
    try {
      const reply = await requestAPI<IPromptReply>('prompt?task=chat', {
        method: 'POST',
        body: JSON.stringify(this._body(context, `inspect-${UUID.uuid4()}`, messages))
      });
      this._options.showInspector(reply, `Chat context: ${context.label ?? 'no notebook'}`);
    } catch (error) {
      this._setStatus(`Could not build the prompt: ${errorText(error)}`, true);
    }
  }

  /** Recompute the chips for the current notebook; returns the context used. */
  refreshContext(): IChatContext {
    const context = this._options.getContext();
    const conversation = this._conversation(context.key);
    if (this._messagesNode.firstChild !== conversation.node) {
      this._messagesNode.replaceChildren(conversation.node);
      this._renderThreads(conversation);
    }
    this._notebookNode.textContent = context.label ? `Context: ${context.label}` : '';
    this._notebookNode.title = context.label ? 'The cells of this notebook are sent with each message.' : '';
    renderChips(this._chipsNode, this._visibleChips(context), chip => this._remove(chip));
    return context;
  }

  /** The context changed (e.g. another active cell): removed chips come back. */
  contextChanged(): void {
    this._conversation(this._options.getContext().key).removed.clear();
    this.refreshContext();
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

  /** The request body for `context` with the chips the user kept. */
  private _body(context: IChatContext, requestId: string, messages: IChatMessage[]): IChatRequest {
    const chips = this._visibleChips(context);
    const kinds = new Set(chips.map(c => c.kind));
    const body: IChatRequest = { request_id: requestId, messages, ...context.notebook };
    const maxTokens = assistSettings.current.chat.maxTokens;
    if (maxTokens > 0) {
      body.max_tokens = maxTokens; // the settings page's limit (the server clips it to its cap)
    }
    if (context.chips.some(c => c.kind === 'variables') && !kinds.has('variables')) {
      body.variables = [];
    }
    if (context.chips.some(c => c.kind === 'active-cell') && !kinds.has('active-cell')) {
      body.include_active_cell = false;
    }
    const attachments = chips.flatMap(c => (c.attachment ? [c.attachment] : []));
    if (attachments.length) {
      body.attachments = attachments;
    }
    return body;
  }

  private _visibleChips(context: IChatContext): IChip[] {
    const conversation = this._conversation(context.key);
    const auto = context.chips.filter(c => !conversation.removed.has(c.key));
    return [...auto, ...conversation.mentions];
  }

  private _remove(chip: IChip): void {
    const conversation = this._conversation(this._options.getContext().key);
    const before = conversation.mentions.length;
    conversation.mentions = conversation.mentions.filter(c => c.key !== chip.key);
    if (conversation.mentions.length === before) {
      conversation.removed.add(chip.key);
    }
    this.refreshContext();
    this._input.focus();
  }

  private async _mentionItems(): Promise<IMentionItem[]> {
    const context = this._options.getContext();
    const items: IMentionItem[] = [];
    (context.notebook.cells ?? []).forEach((cell, i) => {
      const label = `Cell ${i + 1}`;
      items.push({
        kind: 'cell',
        label,
        detail: firstLine(cell.source) || '(empty)',
        resolve: async () => ({
          key: `mention:cell:${i}:${cell.source.length}`,
          kind: 'cell',
          label: `${label}: ${firstLine(cell.source, 24)}`,
          detail: cell.source,
          attachment: attachment('cell', label, cell.source)
        })
      });
    });
    for (const v of context.notebook.variables ?? []) {
      const text = `${v.name}${v.type ? `: ${v.type}` : ''}${v.summary ? `, ${v.summary}` : ''}`;
      items.push({
        kind: 'variable',
        label: v.name,
        detail: v.type ?? '',
        resolve: async () => ({
          key: `mention:variable:${v.name}`,
          kind: 'variable',
          label: v.name,
          detail: text,
          attachment: attachment('variable', v.name, text)
        })
      });
    }
    if (context.directory !== null) {
      for (const file of await this._listFiles(context.directory)) {
        items.push({
          kind: 'file',
          label: file.name,
          detail: `${file.size ?? '?'} bytes`,
          resolve: () => this._readFile(file.path)
        });
      }
    }
    return items;
  }

  /** Files (not notebooks or folders) of `directory`, up to FILE_LIMIT bytes. */
  private async _listFiles(directory: string): Promise<Contents.IModel[]> {
    const cached = this._listing;
    if (cached && cached.directory === directory && Date.now() - cached.at < LISTING_TTL_MS) {
      return cached.files;
    }
    const model = await this._options.contents.get(directory, { content: true });
    const entries = Array.isArray(model.content) ? (model.content as Contents.IModel[]) : [];
    const files = entries.filter(
      e => e.type === 'file' && (e.size === undefined || e.size === null || e.size <= FILE_LIMIT)
    );
    this._listing = { directory, at: Date.now(), files };
    return files;
  }

  /** A file as a chip: text only, within the size cap (its content is untrusted data). */
  private async _readFile(path: string): Promise<IChip> {
    let model: Contents.IModel;
    try {
      model = await this._options.contents.get(path, { content: true, type: 'file', format: 'text' });
    } catch (error) {
      throw new Error(`${path} is not a readable text file (${errorText(error)})`, {
        cause: error
      });
    }
    const text = model.content;
    if (typeof text !== 'string' || text.includes('\u0000')) {
      throw new Error(`${path} is not a text file`);
    }
    if (text.length > MAX_TEXT) {
      throw new Error(`${path} is over ${MAX_TEXT} characters`);
    }
    return {
      key: `mention:file:${path}`,
      kind: 'file',
      label: model.name,
      detail: text,
      attachment: attachment('file', path, text)
    };
  }

  private async _addMention(item: IMentionItem): Promise<void> {
    const key = this._options.getContext().key;
    try {
      const chip = await item.resolve();
      const conversation = this._conversation(key);
      conversation.mentions = [...conversation.mentions.filter(c => c.key !== chip.key), chip];
      this._setStatus('');
    } catch (error) {
      this._setStatus(errorText(error), true);
    }
    this.refreshContext();
    this._input.focus();
  }

  private _onKeydown = (event: KeyboardEvent): void => {
    if (this._mentions.handleKey(event)) {
      return;
    }
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

  private _conversation(key: string): IConversation {
    let conversation = this._conversations.get(key);
    if (!conversation) {
      const thread = newThread();
      const created: IConversation = {
        key,
        threads: [thread],
        thread,
        node: el('div', 'jp-assist-chat-conversation'),
        mentions: [],
        removed: new Set(),
        loaded: Promise.resolve()
      };
      created.loaded = this._store.load(key).then(stored => {
        // Nothing was asked meanwhile (send waits for this): the stored threads win.
        if (stored && created.thread.messages.length === 0) {
          created.threads = stored.threads;
          created.thread = stored.threads.find(t => t.id === stored.current)!;
          this._showThread(created);
        }
      });
      conversation = created;
      this._conversations.set(key, conversation);
    }
    return conversation;
  }

  /** Show another thread of the current notebook. */
  private _selectThread(id: string): void {
    const conversation = this._conversation(this._options.getContext().key);
    const thread = conversation.threads.find(t => t.id === id);
    if (!thread || thread === conversation.thread) {
      return;
    }
    this.stop();
    conversation.thread = thread;
    this._showThread(conversation);
    this._save(conversation);
  }

  /** Rebuild the conversation's node from its current thread's messages. */
  private _showThread(conversation: IConversation): void {
    conversation.node.replaceChildren();
    for (const stored of conversation.thread.messages) {
      this._showMessage(conversation.node, stored);
    }
    this._updateRegenerate(conversation);
    this._renderThreads(conversation);
    this._scrollToEnd();
  }

  /** A stored message, shown as when it was answered. */
  private _showMessage(node: HTMLElement, stored: IStoredMessage): void {
    const text = this._appendMessage(node, stored.role);
    const message = text.parentElement as HTMLElement;
    if (stored.role === 'user') {
      text.textContent = stored.content; // the user's own text, shown as typed
      if (stored.note) {
        this._addNote(message, stored.note);
      }
      return;
    }
    const view = new AnswerView(text, this._render, error => this._addNote(message, `Error: ${error}`, true));
    void this._finishMessage(message, view, stored);
  }

  /** The final rendering of an answer (code actions on every block) and its notes. */
  private async _finishMessage(
    message: HTMLElement,
    view: AnswerView,
    stored: IStoredMessage,
    error: unknown = null
  ): Promise<void> {
    if (stored.finish === 'error') {
      message.classList.add('jp-mod-error');
      if (error !== null) {
        // What happened, what to do, and Retry (the same question again).
        message.appendChild(errorNotice(error, { action: 'Chat', retry: () => void this._again(null) }));
      } else {
        this._addNote(message, `Error: ${stored.note ?? 'the request failed'}`);
      }
    } else if (stored.finish === 'cancelled') {
      message.classList.add('jp-mod-stopped');
      this._addNote(message, '(stopped)');
    } else if (stored.finish === 'length') {
      // Said plainly: a cut-off answer can end mid-sentence or inside a code block.
      message.classList.add('jp-mod-cutoff');
      const note = this._addNote(
        message,
        'Cut off: the answer reached its length limit. Its code may be incomplete; ask to continue, or raise AssistExtension.chat_max_tokens.'
      );
      note.classList.add('jp-assist-chat-cutoff');
    } else if (!stored.content) {
      this._addNote(message, '(no answer)');
    }
    await view.update(stored.content, this._options.actions);
  }

  /** The thread list of `conversation` (if it is the one shown). */
  private _renderThreads(conversation: IConversation): void {
    if (this._messagesNode.firstChild !== conversation.node) {
      return;
    }
    const options = [...conversation.threads]
      .sort((a, b) => b.updated - a.updated)
      .map(thread => {
        const option = el('option', '');
        option.value = thread.id;
        option.textContent = thread.messages.length
          ? `${thread.title} (${new Date(thread.updated).toLocaleString()})`
          : 'New chat';
        return option;
      });
    this._threadsNode.replaceChildren(...options);
    this._threadsNode.value = conversation.thread.id;
  }

  /** One "Regenerate" button, on the thread's last answer, while nothing streams. */
  private _updateRegenerate(conversation: IConversation): void {
    conversation.node.querySelectorAll('.jp-assist-chat-regenerate').forEach(b => b.remove());
    const messages = conversation.thread.messages;
    const last = conversation.node.lastElementChild as HTMLElement | null;
    if (this._pending || messages[messages.length - 1]?.role !== 'assistant' || !last) {
      return;
    }
    const regenerate = button('Regenerate', 'jp-mod-minimal jp-assist-chat-regenerate');
    regenerate.title = 'Ask again: another answer, sampled (the model picks less likely words)';
    regenerate.addEventListener('click', () => void this.regenerate());
    last.appendChild(regenerate);
  }

  private _save(conversation: IConversation): void {
    this._store.save(conversation.key, {
      threads: conversation.threads,
      current: conversation.thread.id
    });
  }

  /** Add a message block; returns the element that holds its text. */
  private _appendMessage(node: HTMLElement, role: IChatMessage['role']): HTMLDivElement {
    const message = el('div', 'jp-assist-chat-message');
    message.dataset.role = role;
    const text = el('div', 'jp-assist-chat-text');
    message.appendChild(text);
    node.appendChild(message);
    this._scrollToEnd();
    return text;
  }

  private _addNote(message: HTMLElement, note: string, error = false): HTMLDivElement {
    const node = el('div', 'jp-assist-chat-note');
    node.classList.toggle('jp-mod-error', error);
    node.textContent = note;
    message.appendChild(node);
    return node;
  }

  private _setStatus(text: string, error = false): void {
    this._statusNode.textContent = text;
    this._statusNode.classList.toggle('jp-mod-error', error);
  }

  private _setPending(pending: IPending | null): void {
    this._pending = pending;
    this._sendButton.disabled = pending !== null;
    this._stopButton.disabled = pending === null;
    this._threadsNode.disabled = pending !== null;
    this.toggleClass('jp-mod-streaming', pending !== null);
  }

  private _scrollToEnd(): void {
    this._messagesNode.scrollTop = this._messagesNode.scrollHeight;
  }

  private _options: ChatWidget.IOptions;
  private _render: MarkdownRender;
  private _store: ThreadStore;
  private _threadsNode: HTMLSelectElement;
  private _conversations = new Map<string, IConversation>();
  private _listing: { directory: string; at: number; files: Contents.IModel[] } | null = null;
  private _pending: IPending | null = null;
  private _mentions: MentionPopup;
  private _messagesNode: HTMLDivElement;
  private _contextNode: HTMLDivElement;
  private _notebookNode: HTMLSpanElement;
  private _chipsNode: HTMLSpanElement;
  private _statusNode: HTMLDivElement;
  private _input: HTMLTextAreaElement;
  private _sendButton: HTMLButtonElement;
  private _stopButton: HTMLButtonElement;
  private _clearButton: HTMLButtonElement;
  private _inspectButton: HTMLButtonElement;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
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
