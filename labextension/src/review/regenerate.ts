// Regenerate and refine: another proposal for the same request, sampled, or the current
// proposal rewritten following a follow-up instruction (both through the server's tasks).
import type { Cell } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';

import { collectNotebook } from '../shared/context';
import { assistSettings, tokenLimit } from '../shared/settings';
import { IProposalStream, streamProposals } from './proposals';

/** Regenerate's sampling: warm enough to give another text, cool enough to stay on task. */
export const REGENERATE_TEMPERATURE = 0.7;

/** Sampling parameters with a fresh seed (the same seed would repeat the answer). */
export function sampling(): { temperature: number; seed: number } {
  const [seed] = crypto.getRandomValues(new Uint32Array(1));
  return { temperature: REGENERATE_TEMPERATURE, seed };
}

/**
 * A follow-up for the review in `cell`: the edit task rewrites `current` (the proposal
 * shown, the speculative draft) following `instruction`, with the notebook as context.
 * The review still diffs against the cell's `original`.
 */
export function refineProposal(
  panel: NotebookPanel,
  cell: Cell,
  original: string,
  current: string,
  instruction: string,
  sampled = false
): IProposalStream {
  const context = collectNotebook(panel);
  const index = panel.content.widgets.indexOf(cell);
  return streamProposals(
    {
      route: 'edit',
      body: {
        ...context,
        ...(sampled ? sampling() : {}),
        instruction,
        source: current,
        cell_index: index >= 0 ? index : null,
        ...tokenLimit(assistSettings.current.edit.maxTokens)
      }
    },
    original
  );
}
