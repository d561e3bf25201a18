// The variables a step's run changed (AgentStep.variables): the kernel's summaries before
// and after the run, compared by name, type and summary. Pure: agentHost.ts probes.
import type { IVariable } from '../shared/types';

export const MAX_CHANGED = 200; // AgentStep.variables' bound on the server

/**
 * New or changed variables (in the kernel's order after the run), then the deleted ones
 * (summary "deleted"). Either side unknown (no Python kernel, no jupyter_assist in it):
 * none, rather than every variable reported as new.
 */
export function changedVariables(before: IVariable[] | undefined, after: IVariable[] | undefined): IVariable[] {
  if (!before || !after) {
    return [];
  }
  const old = new Map(before.map(v => [v.name, v]));
  const changed = after.filter(v => {
    const was = old.get(v.name);
    return !was || (was.type ?? '') !== (v.type ?? '') || (was.summary ?? '') !== (v.summary ?? '');
  });
  const now = new Set(after.map(v => v.name));
  const deleted = before.filter(v => !now.has(v.name)).map(v => ({ name: v.name, type: '', summary: 'deleted' }));
  return [...changed, ...deleted].slice(0, MAX_CHANGED);
}
