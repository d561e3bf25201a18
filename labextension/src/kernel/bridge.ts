// Frontend end of the `jupyter_assist` comm (kernel side: jupyter_assist/kernel/bridge.py).
// %%assist's Accept runs in the kernel after the cell finished, where set_next_input no
// longer reaches JupyterLab; the kernel sends the code here and we write the notebook model.
// The code is only placed in a cell: never executed.
// Kernel code can open comms and send anything, so a message writes only when it comes on
// the one bridge comm of this kernel session and names an Accept click the user made
// (acceptClicks.ts); everything else is ignored and logged.
import { Notification } from '@jupyterlab/apputils';
import type { ICodeCellModel } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';

import { takeAcceptClick } from './acceptClicks';

export const COMM_TARGET = 'jupyter_assist';

/** What the kernel asks for when the user accepts a proposal. */
export interface IBridgeAction {
  action: 'insert' | 'replace';
  /** insert: the %%assist cell to insert after; replace: the cell to rewrite. */
  cell_id: string;
  code: string;
  /** replace: the source the proposal was based on; rewrite only if still equal. */
  expected?: string;
  /** replace: the %%assist cell, to insert after when the target changed. */
  after?: string;
  /** The frontend whose click it was; others sharing the comm ignore it. */
  session?: string;
  /** The id of the review widget's Accept button the user clicked; one use. */
  accept_id?: string;
}

function parseAction(data: unknown): IBridgeAction | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const d = data as Record<string, unknown>;
  const ok =
    (d.action === 'insert' || d.action === 'replace') &&
    typeof d.cell_id === 'string' &&
    typeof d.code === 'string' &&
    (d.expected === undefined || typeof d.expected === 'string') &&
    (d.after === undefined || typeof d.after === 'string') &&
    (d.session === undefined || typeof d.session === 'string') &&
    (d.accept_id === undefined || typeof d.accept_id === 'string');
  return ok ? (d as unknown as IBridgeAction) : null;
}

function cellIndex(panel: NotebookPanel, id: string | undefined): number {
  const cells = panel.content.model?.cells;
  if (!cells || !id) {
    return -1;
  }
  for (let i = 0; i < cells.length; i++) {
    if (cells.get(i).id === id) {
      return i;
    }
  }
  return -1;
}

// IPython's history drops trailing newlines of a cell's source.
const trimEnd = (s: string): string => s.replace(/\s+$/, '');

function insertAfter(panel: NotebookPanel, index: number, code: string): void {
  const shared = panel.content.model!.sharedModel;
  // One transaction: one undo step. A fresh cell has no outputs and no execution count.
  shared.transact(() => {
    shared.insertCell(index + 1, { cell_type: 'code', source: code });
  });
  panel.content.activeCellIndex = index + 1;
  panel.content.scrollToItem(index + 1).catch(() => undefined);
}

/** Perform one action in `panel`; returns what was done, for tests and logs. */
export function applyAction(panel: NotebookPanel, action: IBridgeAction): string {
  const model = panel.content.model;
  if (!model) {
    return 'no-model';
  }
  if (action.action === 'replace') {
    const target = cellIndex(panel, action.cell_id);
    const cell = target >= 0 ? model.cells.get(target) : null;
    const expected = action.expected ?? '';
    if (cell && trimEnd(cell.sharedModel.getSource()) === trimEnd(expected)) {
      // One transaction: one undo step.
      model.sharedModel.transact(() => {
        cell.sharedModel.setSource(action.code);
        if (cell.type === 'code') {
          // The new code has not run: outputs and count of the old code would mislead.
          const code = cell as ICodeCellModel;
          code.outputs.clear();
          code.executionCount = null;
        }
      });
      panel.content.activeCellIndex = target;
      return 'replaced';
    }
    // The user edited (or deleted) the target since: never overwrite their text.
    const after = cellIndex(panel, action.after);
    insertAfter(panel, after >= 0 ? after : model.cells.length - 1, action.code);
    Notification.warning(
      'jupyter-assist: the target cell changed since the proposal was made, so it was inserted below instead.',
      { autoClose: 8000 }
    );
    return 'inserted-instead';
  }
  const index = cellIndex(panel, action.cell_id);
  if (index < 0) {
    insertAfter(panel, model.cells.length - 1, action.code);
    Notification.info('jupyter-assist: the %%assist cell is gone; the accepted code was added at the end.', {
      autoClose: 8000
    });
    return 'appended';
  }
  insertAfter(panel, index, action.code);
  return 'inserted';
}

let lastNotified = 0;

/** Log a write the kernel asked for and did not get; notify now and then (no toast storm). */
function refused(why: string): void {
  console.warn(`jupyter-assist: ignored a kernel request to write cells: ${why}`);
  const now = Date.now();
  if (now - lastNotified > 10_000) {
    lastNotified = now;
    Notification.warning(
      'jupyter-assist: kernel code asked to write cells without your Accept; nothing was changed (see the browser console).',
      { autoClose: 8000 }
    );
  }
}

/** Route a comm's messages to the notebook panel that holds this kernel connection. */
function listen(comm: Kernel.IComm, kernel: Kernel.IKernelConnection, panel: NotebookPanel): void {
  comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
    const action = parseAction(msg.content.data);
    if (!action) {
      console.warn('jupyter-assist: ignored a malformed kernel bridge message');
      return;
    }
    if (action.session && action.session !== kernel.clientId) {
      return; // another frontend's click
    }
    if (panel.isDisposed) {
      return;
    }
    const click = takeAcceptClick(panel, action.accept_id);
    if (!click.ok) {
      refused(click.why);
      return;
    }
    applyAction(panel, action);
  };
}

/** A second `jupyter_assist` comm while the bridge is open: kernel code, not %load_ext. */
function ignore(comm: Kernel.IComm): void {
  console.warn(
    'jupyter-assist: ignored a second jupyter_assist comm from the kernel (only the one %load_ext opened is the bridge)'
  );
  comm.onMsg = () => refused('it came on a jupyter_assist comm that is not the bridge');
}

/**
 * Take part in the handshake on one kernel connection of one notebook: answer the kernel's
 * comm (opened by `%load_ext jupyter_assist`), and if the extension was loaded before this
 * page connected (a reload), open a comm to the kernel's target.
 *
 * One bridge comm at a time: the first of these; a later `jupyter_assist` comm from the
 * kernel is ignored until that one is gone (closed by `%unload_ext` / `%reload_ext`, or
 * disposed by a kernel restart), when the next handshake takes its place.
 */
export function connectBridge(kernel: Kernel.IKernelConnection, panel: NotebookPanel): void {
  let bridge: Kernel.IComm | null = null;
  const held = (): boolean => bridge !== null && !bridge.isDisposed;
  kernel.registerCommTarget(COMM_TARGET, comm => {
    if (held()) {
      ignore(comm);
      return;
    }
    bridge = comm;
    listen(comm, kernel, panel);
    comm.send({ ready: true });
  });
  // comm_info lists the comm %load_ext opened: the kernel has our target registered.
  // Asking first avoids a "No such comm target" error in kernels without the extension.
  kernel
    .requestCommInfo({ target_name: COMM_TARGET })
    .then(reply => {
      const content = reply.content;
      if (
        content.status !== 'ok' ||
        Object.keys(content.comms).length === 0 ||
        kernel.isDisposed ||
        held() // the kernel's own handshake came first
      ) {
        return;
      }
      const comm = kernel.createComm(COMM_TARGET);
      bridge = comm;
      listen(comm, kernel, panel);
      comm.open({ ready: true });
    })
    .catch(() => undefined); // no kernel answer: %load_ext will open the comm itself
}
