// Inline (ghost text) completion provider: `POST jupyter-assist/complete`. It wires the
// stages: the request's timing (timing.ts), the job and its stream (job.ts), and the
// suggestion on screen with type-along reuse and telemetry (onScreen.ts).
import type {
  CompletionHandler,
  IInlineCompletionContext,
  IInlineCompletionItem,
  IInlineCompletionList,
  IInlineCompletionProvider
} from '@jupyterlab/completer';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { JSONValue } from '@lumino/coreutils';

import type { CommandRegistry } from '@lumino/commands';

import { streamText } from '../shared/api';
import { assistIcon } from '../shared/icon';
import { assistSettings } from '../shared/settings';
import { ghostTextHealth } from '../status/status';
import { CompletionJob, wait } from './job';
import { SuggestionOnScreen } from './onScreen';
import { cellHolder, completeBody, splitAtCursor } from './request';
import { RequestTiming } from './timing';

/** JupyterLab's command behind Tab on ghost text. */
const ACCEPT_COMMAND = 'inline-completer:accept';

type StreamReply = { response: IInlineCompletionItem };

const NO_ITEMS: IInlineCompletionList = { items: [] };

export class AssistInlineProvider implements IInlineCompletionProvider {
  readonly identifier = '@jupyter-assist/inline-completer';
  readonly name = 'Jupyter Assist';
  readonly icon = assistIcon;

  /**
   * Merged by the completer extension into the `providers` setting of
   * `@jupyterlab/completer-extension:inline-completer`. Its `default` is
   * spread over the built-in defaults (enabled: true, timeout: 5000, ...);
   * `enabled: true` is restated so we stay on even if that default changes.
   * The rest (on/off, the one request delay, limits) is on the Jupyter Assist
   * settings page (schema/settings.json): JupyterLab's own `debouncerDelay`
   * stays 0, since this provider debounces itself (see `fetch`); a non-zero
   * one counts toward the request delay, never on top of it.
   */
  readonly schema: ISettingRegistry.IProperty = {
    default: { enabled: true, debouncerDelay: 0 },
    properties: {}
  };

  constructor(commands?: CommandRegistry) {
    commands?.commandExecuted.connect((_, args) => {
      if (args.id === ACCEPT_COMMAND) {
        this._screen.accepted();
      }
    });
    // The request delay counts from the key press; JupyterLab calls `fetch`
    // some ms later, after the editor and the notebook model have updated.
    document.addEventListener('keydown', event => this._timing.keyPressed(event.timeStamp), {
      capture: true,
      passive: true
    });
  }

  configure(settings: { [property: string]: JSONValue }): void {
    this._timing.configure(settings);
  }

  /**
   * Wait (at most until shortly before the completer's `timeout`) for the
   * first visible text, then answer with it; the rest comes from `stream`.
   *
   * Why not answer at once with an empty incomplete item: the completer
   * marks the editor "inline completion active" as soon as an item exists,
   * even an empty one, and Tab then accepts that empty item instead of
   * indenting or opening the kernel completer. Answering only with real text
   * (or no items when the model has nothing to add) keeps Tab working. If
   * the model is too slow for the budget, fall back to the empty streamed
   * item so the ghost text still appears when tokens come.
   */
  async fetch(request: CompletionHandler.IRequest, context: IInlineCompletionContext): Promise<IInlineCompletionList> {
    this._seq++;
    const reused = this._typedAlong(request);
    if (reused) {
      return reused;
    }
    // Accepting inserts the text, and that edit asks for a new completion
    // before the accept command's `commandExecuted` fires: count it here.
    if (this._screen.completedBy(...splitAtCursor(request))) {
      this._screen.accepted();
    }
    // Any new request (key press, explicit invoke) makes the last one stale.
    this.cancel();
    let job: CompletionJob;
    try {
      job = new CompletionJob(completeBody(request, context), this._timing.keyPressedAt(), cellHolder(context));
    } catch (error) {
      this._warn(error);
      return NO_ITEMS;
    }
    const ghost = assistSettings.current.ghostText;
    const language = (job.body.language ?? '').toLowerCase();
    if (!ghost.enabled || ghost.disabledLanguages.some(l => l.toLowerCase() === language)) {
      return NO_ITEMS; // the user turned ghost text off (for this language)
    }
    this._job = job;
    const signal = job.signal;
    const deadline = Date.now() + this._timing.firstTextBudget();

    // Debounce here rather than with the completer's `debouncerDelay`: a
    // stale stream still running during that delay would overwrite the
    // completer's own trimming of the ghost text as the user types. A
    // request replaced early in the delay is never sent; one sent in its last
    // PREPARE_MS waits out the rest on the server, which builds and prefills
    // the prompt meanwhile (replaced then, it is cancelled before decoding).
    if (!(await wait(this._timing.sendIn(job.started), signal))) {
      return NO_ITEMS;
    }
    // The server holds the request for `delay_ms` from its arrival; the round
    // trip is taken off so that the answer arrives as the delay ends.
    const rest = this._timing.serverHold(job.started);
    if (rest > 0) {
      job.body.delay_ms = rest;
    }
    job.send(streamText('complete', job.body, signal));
    try {
      await job.waitForText(deadline); // a read left pending is picked up by `stream`
    } catch (error) {
      if (!signal.aborted) {
        this._warn(error);
      }
      this._release(job);
      return NO_ITEMS;
    }
    if (signal.aborted) {
      return NO_ITEMS;
    }
    if (job.done) {
      this._release(job);
      ghostTextHealth.succeeded();
      // Whitespace alone is not worth a ghost (nor a swallowed Tab).
      if (!job.text.trim()) {
        return NO_ITEMS;
      }
      this._screen.show(job, 0);
      return { items: [{ insertText: job.text }] };
    }
    this._lastWarning = '';
    ghostTextHealth.succeeded();
    this._screen.show(job, 0);
    return {
      items: [{ insertText: job.text, isIncomplete: true, token: this._token(0) }]
    };
  }

  /**
   * Stream the rest of the completion for `token`, yielding the whole text
   * so far each time (the completer diffs it against what it shows). The
   * last reply has `isIncomplete: false`. Never throws: errors are logged
   * and end the stream.
   */
  async *stream(token: string): AsyncGenerator<StreamReply, void, undefined> {
    const job = this._job;
    const [seq, offset] = token.split(':').map(Number);
    if (!job || seq !== this._seq || !job.sent) {
      return;
    }
    const signal = job.signal;
    // A newer fetch (key press) owns the ghost now, even if it reuses this job.
    const stale = () => signal.aborted || seq !== this._seq;
    try {
      while (!job.done) {
        const before = job.text;
        await job.readNext();
        if (stale()) {
          return;
        }
        if (!job.done && job.text !== before) {
          this._screen.show(job, offset);
          yield {
            response: { insertText: job.text.slice(offset), isIncomplete: true }
          };
        }
      }
    } catch (error) {
      if (!signal.aborted) {
        this._warn(error);
      }
    } finally {
      this._release(job);
    }
    if (stale()) {
      return;
    }
    // Final state. An empty text leaves an empty, invisible ghost.
    this._screen.show(job, offset);
    yield {
      response: { insertText: job.text.slice(offset), isIncomplete: false }
    };
  }

  /** Abort the running request, if any, and tell the server to stop it. */
  cancel(): void {
    const job = this._job;
    this._job = null;
    this._screen.dismissed();
    job?.cancel();
  }

  dispose(): void {
    this.cancel();
  }

  /** Forget a finished job without cancelling it (it stays reusable). */
  private _release(job: CompletionJob): void {
    if (this._job === job) {
      this._job = null;
    }
    this._timing.learn(job.takeTransportSample());
  }

  /** Stream token: which fetch asked, and how much of the text was typed. */
  private _token(offset: number): string {
    return `${this._seq}:${offset}`;
  }

  /** Typed along the suggestion on screen: its rest, still streaming if its job is. */
  private _typedAlong(request: CompletionHandler.IRequest): IInlineCompletionList | null {
    const reused = this._screen.typedAlong(...splitAtCursor(request));
    if (!reused) {
      return null;
    }
    const { job, offset, rest } = reused;
    if (job.done || this._job !== job) {
      return rest.trim() ? { items: [{ insertText: rest }] } : null;
    }
    return {
      items: [{ insertText: rest, isIncomplete: true, token: this._token(offset) }]
    };
  }

  /** Log a failure once per distinct message (e.g. while the model loads). */
  private _warn(error: unknown): void {
    ghostTextHealth.failed(error); // shown in the status item, not only the console
    const message = error instanceof Error ? error.message : String(error);
    if (message !== this._lastWarning) {
      this._lastWarning = message;
      console.warn('jupyter-assist: inline completion failed:', message);
    }
  }

  private readonly _timing = new RequestTiming();
  private readonly _screen = new SuggestionOnScreen();
  private _job: CompletionJob | null = null;
  /** Bumped by every fetch: streams of older fetches stop. */
  private _seq = 0;
  private _lastWarning = '';
}
