// The agent's side panel: goal, Start / Stop, the auto-run switch (off), a card per step.
import type { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { AgentSession, type IAgentCard } from './agentLoop';
import { NotebookAgentHost } from './agentHost';
import { requestAPI } from '../shared/api';
import type { IAgentRequest, IPromptReply } from '../shared/types';

export const AGENT_PANEL_ID = 'jupyter-assist-agent';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = cls;
  node.textContent = text;
  return node;
}

/** A short summary of a run's outputs: text lines and the error's last line. */
export function outputSummary(outputs: Record<string, unknown>[], maxLines = 4): string {
  const lines: string[] = [];
  for (const o of outputs) {
    if (o.output_type === 'error') {
      lines.push(`${String(o.ename)}: ${String(o.evalue)}`);
    } else if (o.output_type === 'stream') {
      lines.push(...String(Array.isArray(o.text) ? o.text.join('') : o.text).split('\n'));
    } else {
      const data = o.data as Record<string, unknown> | undefined;
      const plain = data?.['text/plain'];
      if (plain !== undefined) {
        lines.push(...String(Array.isArray(plain) ? plain.join('') : plain).split('\n'));
      } else if (data) {
        lines.push('[rich output]');
      }
    }
  }
  const kept = lines.filter(l => l.trim());
  return kept.length > maxLines
    ? [...kept.slice(0, maxLines), `… ${kept.length - maxLines} more lines`].join('\n')
    : kept.join('\n');
}

const LABEL: Record<string, string> = {
  code: 'New cell',
  edit: 'Edit',
  markdown: 'Note',
  ask: 'Question',
  done: 'Done',
  error: 'Unreadable answer'
};

export class AgentPanel extends Widget {
  private session: AgentSession | null = null;
  private host: NotebookAgentHost | null = null;
  private readonly goal = el('textarea', 'jp-assist-agent-goal');
  private readonly startButton = el('button', 'jp-assist-agent-start jp-mod-styled jp-mod-accept', 'Start');
  private readonly stopButton = el('button', 'jp-assist-agent-stop jp-mod-styled jp-mod-warn', 'Stop');
  private readonly autoRun = el('input', 'jp-assist-agent-autorun');
  private readonly cardsNode = el('div', 'jp-assist-agent-cards');
  private readonly statusNode = el('div', 'jp-assist-agent-status');

  constructor(
    private readonly current: () => NotebookPanel | null,
    /** Opens the prompt inspector (chatInspector.ts) on a reply. */
    private readonly showInspector: ((reply: IPromptReply, title: string) => void) | null = null
  ) {
    super();
    this.id = AGENT_PANEL_ID;
    this.addClass('jp-assist-agent');
    this.title.caption = 'Assistant agent';
    this.goal.placeholder = 'Goal, e.g. "Which region has the largest total revenue in sales.csv?"';
    this.goal.rows = 3;
    this.autoRun.type = 'checkbox';
    this.autoRun.checked = false; // off by default, every session
    const autoLabel = el('label', 'jp-assist-agent-autorun-label', ' Auto-run this session (never shell commands)');
    autoLabel.prepend(this.autoRun);
    this.autoRun.addEventListener('change', () => {
      if (this.session) {
        this.session.autoRun = this.autoRun.checked;
      }
    });
    this.startButton.addEventListener('click', () => void this.start());
    this.stopButton.addEventListener('click', () => this.session?.stop());
    const controls = el('div', 'jp-assist-agent-controls');
    controls.append(this.startButton, this.stopButton, autoLabel);
    this.node.append(el('div', 'jp-assist-agent-title', 'Agent'), this.goal, controls, this.statusNode, this.cardsNode);
    this.render();
  }

  focusGoal(): void {
    this.goal.focus();
  }

  async start(): Promise<void> {
    const panel = this.current();
    const goal = this.goal.value.trim();
    if (!panel || !goal) {
      this.statusNode.textContent = panel ? 'Write a goal first.' : 'Open a notebook first.';
      return;
    }
    this.session?.stop();
    this.host = new NotebookAgentHost(panel);
    const session = new AgentSession(this.host);
    session.autoRun = this.autoRun.checked;
    session.onChange(() => this.render());
    this.session = session;
    await session.start(goal);
  }

  /** The step's prompt, rebuilt by the server from the step's request (POST prompt?task=agent). */
  private async inspect(request: IAgentRequest, step: number): Promise<void> {
    try {
      const reply = await requestAPI<IPromptReply>('prompt?task=agent', {
        method: 'POST',
        body: JSON.stringify({ ...request, request_id: `inspect-agent-${step}` })
      });
      this.showInspector?.(reply, `Agent step ${step} prompt`);
    } catch (error) {
      this.statusNode.textContent = `Could not build the prompt: ${String((error as Error)?.message ?? error)}`;
    }
  }

  private render(): void {
    const s = this.session;
    const busy = !!s && !['idle', 'done', 'stopped', 'failed'].includes(s.state);
    this.startButton.disabled = busy;
    this.stopButton.disabled = !busy;
    this.node.dataset.state = s?.state ?? 'idle';
    this.statusNode.textContent = s ? s.message || s.state.replace('-', ' ') : '';
    this.cardsNode.replaceChildren(...(s ? s.cards.map((c, i) => this.card(c, i, s)) : []));
  }

  private card(c: IAgentCard, index: number, s: AgentSession): HTMLElement {
    const node = el('div', `jp-assist-agent-card jp-mod-${c.kind} jp-mod-${c.status}`);
    node.dataset.step = String(index + 1);
    node.append(el('div', 'jp-assist-agent-card-head', `${index + 1}. ${LABEL[c.kind] ?? c.kind}`));
    if (c.text) {
      node.append(el('div', 'jp-assist-agent-card-text', c.text));
    }
    if ((c.kind === 'code' || c.kind === 'edit' || c.kind === 'markdown') && (c.ran ?? c.proposed)) {
      node.append(el('pre', 'jp-assist-agent-card-code', c.ran ?? c.proposed));
    }
    const out = outputSummary(c.outputs);
    if (out) {
      node.append(el('pre', 'jp-assist-agent-card-output', out));
    }
    if (c.reply) {
      node.append(el('div', 'jp-assist-agent-card-reply', c.reply));
    }
    const last = index === s.cards.length - 1;
    if (last && s.state === 'waiting-run' && c.status === 'pending') {
      const run = el('button', 'jp-assist-agent-run jp-mod-styled jp-mod-accept', 'Run');
      run.addEventListener('click', () => void s.run());
      const skip = el('button', 'jp-assist-agent-skip jp-mod-styled', 'Skip');
      skip.addEventListener('click', () => void s.decline());
      node.append(run, skip);
    }
    if (last && s.state === 'waiting-answer') {
      const box = el('input', 'jp-assist-agent-answer');
      box.placeholder = 'Your answer';
      const send = el('button', 'jp-assist-agent-send jp-mod-styled', 'Answer');
      send.addEventListener('click', () => void s.answer(box.value));
      node.append(box, send);
    }
    if (c.request && this.showInspector) {
      const request = c.request;
      const link = el('button', 'jp-assist-agent-prompt', 'Prompt');
      link.title = 'Show exactly what this step sent the model, with token counts';
      link.addEventListener('click', () => void this.inspect(request, index + 1));
      node.append(link);
    }
    if (c.cellId) {
      node.title = 'Show the cell';
      node.addEventListener('click', event => {
        if (!(event.target instanceof HTMLButtonElement) && !(event.target instanceof HTMLInputElement)) {
          this.host?.reveal(c.cellId!);
        }
      });
    }
    return node;
  }
}
