// Chat threads per notebook, kept across reloads in JupyterLab's state database.
//
// Where, and why: IStateDB is per user and per workspace, saved by JupyterLab on the
// server with the workspace (JUPYTERLAB_WORKSPACES_DIR), so a reload or another tab of
// the same workspace finds the threads again. Not the notebook's metadata: that is saved
// into the .ipynb, shared with collaborators in real time and committed with the file,
// and a private conversation (which may quote files and variables) does not belong
// there. Not a new server store either: the workspace already is one, per user. The cost:
// a thread follows the notebook's path (a renamed notebook starts afresh) and a workspace
// reset (`?reset`) forgets it. See docs/chat.md.
import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { UUID } from '@lumino/coreutils';

import type { FinishReason, IChatMessage } from '../shared/types';

/** One shown message, as stored. */
export interface IStoredMessage {
  role: IChatMessage['role'];
  content: string;
  /** Assistant: how it ended ('error': it failed, `note` says why). */
  finish?: FinishReason | 'error';
  /** User: the context chips' labels; assistant: the error text. */
  note?: string;
  /** User: no answer came (failed or stopped empty): shown, never resent. */
  unanswered?: boolean;
}

export interface IThread {
  id: string;
  title: string;
  /** ms since the epoch of the last message. */
  updated: number;
  messages: IStoredMessage[];
}

/** A notebook's threads, newest last, and the one shown. */
export interface IThreads {
  threads: IThread[];
  current: string;
}

const PREFIX = 'jupyter-assist:chat-threads:';
const MAX_THREADS = 20; // per notebook: the oldest go first
const MAX_THREAD_CHARS = 200_000; // per thread: its oldest messages go first
const TITLE_CHARS = 60;

export function newThread(): IThread {
  return { id: UUID.uuid4(), title: 'New chat', updated: Date.now(), messages: [] };
}

/** What a thread sends the model: answered questions and their answers, alternating. */
export function history(thread: IThread): IChatMessage[] {
  return thread.messages
    .filter(m => (m.role === 'user' ? !m.unanswered : m.finish !== 'error' && m.content))
    .map(m => ({ role: m.role, content: m.content }));
}

/** A thread's name in the list: its first question. */
export function titleOf(thread: IThread): string {
  const first = thread.messages.find(m => m.role === 'user')?.content.trim() ?? '';
  const line = first.split('\n')[0];
  return !line ? 'New chat' : line.length > TITLE_CHARS ? line.slice(0, TITLE_CHARS - 1) + '…' : line;
}

/** Reads and writes a notebook's threads; without a state database, nothing persists. */
export class ThreadStore {
  constructor(private readonly state: IStateDB | null) {}

  async load(key: string): Promise<IThreads | null> {
    if (!this.state) {
      return null;
    }
    try {
      return parse(await this.state.fetch(PREFIX + key));
    } catch (error) {
      console.warn('jupyter-assist: could not read the chat threads', error);
      return null;
    }
  }

  /** Save (the state database writes the workspace after a short debounce). */
  save(key: string, value: IThreads): void {
    if (!this.state) {
      return;
    }
    const threads = value.threads
      .filter(t => t.messages.length > 0 || t.id === value.current)
      .slice(-MAX_THREADS)
      .map(capped);
    const stored = { threads, current: value.current } as unknown as ReadonlyPartialJSONObject;
    this.state
      .save(PREFIX + key, stored)
      .catch(error => console.warn('jupyter-assist: could not save the chat threads', error));
  }
}

function capped(thread: IThread): IThread {
  let total = thread.messages.reduce((n, m) => n + m.content.length, 0);
  let start = 0;
  while (total > MAX_THREAD_CHARS && start < thread.messages.length - 1) {
    total -= thread.messages[start++].content.length;
  }
  return start ? { ...thread, messages: thread.messages.slice(start) } : thread;
}

/** Stored JSON -> threads; anything malformed is dropped (the store is user-writable). */
function parse(value: unknown): IThreads | null {
  if (!value || typeof value !== 'object') {
    return null;
  }
  const raw = value as { threads?: unknown; current?: unknown };
  const threads = (Array.isArray(raw.threads) ? raw.threads : []).flatMap(parseThread);
  if (!threads.length) {
    return null;
  }
  const current =
    typeof raw.current === 'string' && threads.some(t => t.id === raw.current)
      ? raw.current
      : threads[threads.length - 1].id;
  return { threads, current };
}

function parseThread(value: unknown): IThread[] {
  if (!value || typeof value !== 'object') {
    return [];
  }
  const raw = value as Partial<Record<keyof IThread, unknown>>;
  if (typeof raw.id !== 'string' || !Array.isArray(raw.messages)) {
    return [];
  }
  const messages = raw.messages.flatMap((m: unknown): IStoredMessage[] => {
    const msg = m as Partial<IStoredMessage> | null;
    if (!msg || (msg.role !== 'user' && msg.role !== 'assistant') || typeof msg.content !== 'string') {
      return [];
    }
    const out: IStoredMessage = { role: msg.role, content: msg.content };
    if (typeof msg.finish === 'string') {
      out.finish = msg.finish;
    }
    if (typeof msg.note === 'string') {
      out.note = msg.note;
    }
    if (msg.unanswered === true) {
      out.unanswered = true;
    }
    return [out];
  });
  const thread: IThread = {
    id: raw.id,
    title: 'New chat',
    updated: typeof raw.updated === 'number' ? raw.updated : 0,
    messages
  };
  thread.title = titleOf(thread);
  return [thread];
}
