// Kernel variable summaries for requests (completions, chat...), cached per notebook.
// Read with a silent execute_request whose user_expression calls
// jupyter_assist.kernel.variables.for_frontend() (never imported from the notebook's
// folder): no history entry, no execution count, no name added to the user namespace. Asked only when the kernel is idle, after each cell
// execution; requests read the cache synchronously and never wait for the kernel.
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';

import type { IVariable } from '../shared/types';

// Python that imports jupyter_assist.kernel.variables as `import` would, except from the
// kernel's working directory ('' or the notebook's folder, wherever it sits in sys.path):
// opening a notebook must not run a `jupyter_assist` package that lies next to it. A module
// already imported (%load_ext) is reused. Run by exec in a fresh dict: the user namespace
// gets nothing. Mirrored by tests/test_kernel_bridge.py (probe_expression), which reads it.
const LOADER = `import importlib, importlib.util, os, sys
from importlib.machinery import PathFinder

def load():
    name = 'jupyter_assist.kernel.variables'
    if name in sys.modules:
        return sys.modules[name]
    if 'jupyter_assist' not in sys.modules:
        cwd = os.path.realpath(os.getcwd())
        path = [p for p in sys.path if isinstance(p, str) and p and os.path.realpath(p) != cwd]
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            spec = find('jupyter_assist', path if finder is PathFinder else None) if find else None
            if spec is not None and spec.loader is not None:
                break
        else:
            raise ImportError('jupyter_assist is not installed in this kernel')
        module = importlib.util.module_from_spec(spec)
        sys.modules['jupyter_assist'] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules['jupyter_assist']
            raise
    return importlib.import_module(name)
`;
const EXPRESSION = `(lambda ns: (exec(${JSON.stringify(LOADER)}, ns), ns['load']())[1])({}).for_frontend()`;
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

async function query(panel: NotebookPanel, kernel: Kernel.IKernelConnection): Promise<void> {
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
    { status?: string; data?: Record<string, unknown> } | undefined;
  // Error status: jupyter_assist not importable in this kernel's environment.
  const vars = result?.status === 'ok' ? parse(result.data?.['text/plain']) : undefined;
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

/**
 * Ask now and wait for the answer (the agent compares before and after a run): the fresh
 * summaries, or undefined when none can be known. Updates the cache too.
 */
export async function probeVariables(panel: NotebookPanel): Promise<IVariable[] | undefined> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || panel.isDisposed) {
    return undefined;
  }
  try {
    await query(panel, kernel);
  } catch {
    cache.delete(panel);
  }
  return cache.get(panel);
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
