// Accept clicks the user really made on %%assist review widgets (kernel side:
// jupyter_assist/kernel/widget.py). Kernel code can send anything on any comm, but it
// cannot make a trusted DOM click: the kernel bridge (bridge.ts) writes a cell only for a
// message that names the id of an Accept button clicked here, in that notebook, once.
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

/** The widget's Accept button has this class and `jp-assist-accept-<32 hex digits>`. */
const ACCEPT_CLASS = 'jp-assist-accept';
const ID_CLASS = /^jp-assist-accept-([0-9a-f]{32})$/;
/**
 * How long a click stays good. The kernel handles the click after the running cell
 * finishes, so this allows for a busy kernel, yet a forgotten click does not linger.
 */
export const CLICK_TTL_MS = 5 * 60_000;

interface IClick {
  panel: NotebookPanel;
  at: number;
}

const clicks = new Map<string, IClick>();

function forgetExpired(now: number): void {
  for (const [id, click] of clicks) {
    if (now - click.at > CLICK_TTL_MS || click.panel.isDisposed) {
      clicks.delete(id);
    }
  }
}

function onClick(tracker: INotebookTracker, event: MouseEvent): void {
  if (!event.isTrusted) {
    return; // dispatched by a script (an output can run one), not by the user
  }
  const target = event.target instanceof Element ? event.target : null;
  const button = target?.closest(`button.${ACCEPT_CLASS}`);
  // A button that says Accept, in a notebook output: what the user agreed to.
  const label = (button?.textContent ?? '').trim();
  if (!button || !label.startsWith('Accept') || !button.closest('.jp-OutputArea')) {
    return;
  }
  const panel = tracker.find(p => p.node.contains(button));
  if (!panel) {
    return; // e.g. an output view detached from its notebook: no bridge writes from it
  }
  const now = Date.now();
  forgetExpired(now);
  for (const name of Array.from(button.classList)) {
    const id = ID_CLASS.exec(name)?.[1];
    if (id) {
      clicks.set(id, { panel, at: now });
    }
  }
}

/** Record Accept clicks in every notebook (capture phase: before the widget handles it). */
export function watchAcceptClicks(tracker: INotebookTracker): void {
  document.addEventListener('click', event => onClick(tracker, event), true);
}

/**
 * Use up the click with this id: true when the user clicked that Accept button in `panel`
 * within CLICK_TTL_MS and no message used it before. Why not, otherwise, for the log.
 */
export function takeAcceptClick(
  panel: NotebookPanel,
  id: string | undefined
): { ok: true } | { ok: false; why: string } {
  forgetExpired(Date.now());
  if (!id) {
    return { ok: false, why: 'it names no Accept click' };
  }
  const click = clicks.get(id);
  if (!click) {
    return {
      ok: false,
      why: 'no Accept button with its id was clicked (or that click was used or expired)'
    };
  }
  if (click.panel !== panel) {
    return { ok: false, why: 'its Accept click was in another notebook' };
  }
  clicks.delete(id);
  return { ok: true };
}
