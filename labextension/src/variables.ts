// Kernel variable summaries for requests (completions, chat...), cached per notebook.
// Read with a silent execute_request whose user_expression calls
// jupyter_assist.kernel.variables.for_frontend(): no history entry, no execution count, no
// name added to the user namespace. Asked only when the kernel is idle, after each cell
// execution; requests read the cache synchronously and never wait for the kernel.
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';

import type { IVariable } from './types';

const EXPRESSION =
  "__import__('jupyter_assist.kernel.variables', fromlist=['for_frontend']).for_frontend()";
const TIMEOUT_MS = 5000;

const cache = new WeakMap<NotebookPanel, IVariable[]>();
const pending = new WeakSet<NotebookPanel>();
const inflight = new WeakSet<NotebookPanel>();

/** Cached summaries of the notebook's kernel namespace (undefined: none known). */
export function kernelVariables(panel: NotebookPanel): IVariable[] | undefined {
  return cache.get(panel);
}

export function forgetVariables(panel: NotebookPanel): void {
  cache.delete(panel);
}

function parse(text: unknown): IVariable[] | undefined {
  if (typeof text !== 'string') {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) {
    return undefined;
  }
  return value.filter(
    (v): v is IVariable =>
      !!v &&
      typeof v === 'object' &&
      typeof v.name === 'string' &&
      (v.type === undefined || typeof v.type === 'string') &&
      (v.summary === undefined || typeof v.summary === 'string')
  );
}

async function isPython(kernel: Kernel.IKernelConnection): Promise<boolean> {
  const info = await kernel.info;
  return info.language_info?.name === 'python';
}

async function query(
  panel: NotebookPanel,
  kernel: Kernel.IKernelConnection
): Promise<void> {
  if (!(await isPython(kernel))) {
    cache.delete(panel);
    return;
  }
  const future = kernel.requestExecute(
    {
      code: '',
      silent: true,
      store_history: false,
      user_expressions: { variables: EXPRESSION }
    },
    true
  );
  let timer = 0;
  const timeout = new Promise<null>(resolve => {
    timer = window.setTimeout(() => resolve(null), TIMEOUT_MS);
  });
  const reply = await Promise.race([future.done, timeout]);
  window.clearTimeout(timer);
  if (!reply || reply.content.status !== 'ok') {
    return; // slow or busy kernel: keep the previous summaries
  }
  const result = reply.content.user_expressions?.variables as
    | { status?: string; data?: Record<string, unknown> }
    | undefined;
  // Error status: jupyter_assist not importable in this kernel's environment.
  const vars =
    result?.status === 'ok' ? parse(result.data?.['text/plain']) : undefined;
  if (vars) {
    cache.set(panel, vars);
  } else {
    cache.delete(panel);
  }
}

/** Ask now if the kernel is idle, else when it next becomes idle. */
export function refreshVariables(panel: NotebookPanel): void {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || panel.isDisposed) {
    return;
  }
  if (kernel.status !== 'idle' || inflight.has(panel)) {
    pending.add(panel);
    return;
  }
  pending.delete(panel);
  inflight.add(panel);
  query(panel, kernel)
    .catch(() => cache.delete(panel))
    .finally(() => {
      inflight.delete(panel);
    });
}

/** Keep one notebook's cache fresh: on idle after a request, cleared on kernel changes. */
export function watchVariables(panel: NotebookPanel): void {
  const ctx = panel.sessionContext;
  ctx.statusChanged.connect((_, status) => {
    if (status === 'restarting' || status === 'dead') {
      cache.delete(panel);
    } else if (status === 'idle' && pending.has(panel)) {
      refreshVariables(panel);
    }
  });
  ctx.kernelChanged.connect(() => {
    cache.delete(panel);
    pending.add(panel);
  });
  pending.add(panel); // a kernel that already holds variables (page reload)
}
