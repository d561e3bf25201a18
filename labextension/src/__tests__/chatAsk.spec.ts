// ChatWidget.ask: what Explain Cell calls. It sends the question with the context given,
// all its chips, and leaves the user's draft in the input box.
import type { Contents } from '@jupyterlab/services';

import { ChatWidget } from '../chat/chat';
import type { IChatContext } from '../chat/chatContext';
import type { IChatRequest } from '../shared/types';

const sent: IChatRequest[] = [];

jest.mock('../shared/api', () => ({
  ...jest.requireActual('../shared/api'),
  cancelRequest: jest.fn(),
  streamText: jest.fn(async function* (_route: string, body: IChatRequest) {
    sent.push(body);
    yield { text: 'It prints x.', done: true, finishReason: 'stop' };
  })
}));

// Rendermime (an ES module jest does not load here) and the icon are not what is tested.
jest.mock('../chat/chatMarkdown', () => ({
  plainText: async (host: HTMLElement, markdown: string) => {
    host.textContent = markdown;
  },
  fence: (code: string) => `\`\`\`python\n${code}\n\`\`\``
}));
jest.mock('../shared/icon', () => ({ assistIcon: undefined }));

const CONTEXT: IChatContext = {
  key: 'nb.ipynb',
  label: 'nb.ipynb',
  notebook: { cells: [{ cell_type: 'code', source: 'print(x)' }], cell_index: 0 },
  chips: [{ key: 'active-cell:a', kind: 'active-cell', label: 'Cell 1: print(x)', detail: 'print(x)' }],
  directory: ''
};

function chat(): ChatWidget {
  return new ChatWidget({
    getContext: () => CONTEXT,
    contents: {} as Contents.IManager,
    actions: { apply: jest.fn(), insertBelow: jest.fn(), copy: jest.fn() },
    showInspector: jest.fn()
  });
}

const input = (widget: ChatWidget) => widget.node.querySelector<HTMLTextAreaElement>('.jp-assist-chat-input')!;

beforeEach(() => {
  sent.length = 0;
});

describe('ChatWidget.ask', () => {
  it('sends the question as a new message and keeps the draft in the input box', async () => {
    const widget = chat();
    input(widget).value = 'half-typed draft';
    expect(await widget.ask('Explain the cell.', CONTEXT)).toBe(true);
    expect(sent).toHaveLength(1);
    expect(sent[0].messages).toEqual([{ role: 'user', content: 'Explain the cell.' }]);
    expect(sent[0].cell_index).toBe(0);
    expect(input(widget).value).toBe('half-typed draft');
    const shown = [...widget.node.querySelectorAll('.jp-assist-chat-messages')].map(n => n.textContent).join('');
    expect(shown).toContain('Explain the cell.');
    expect(shown).toContain('It prints x.');
  });

  it('sends the active cell with a given context, even after the user removed its chip', async () => {
    const widget = chat();
    widget.node.querySelector<HTMLButtonElement>('.jp-assist-chat-chip-remove')!.click();
    input(widget).value = 'first';
    await widget.send();
    expect(sent[0].include_active_cell).toBe(false); // the chip was removed: left out
    await widget.ask('Explain the cell.', CONTEXT);
    expect(sent[1].include_active_cell).toBeUndefined(); // Explain: the cell goes
  });

  it('sends nothing for a blank question', async () => {
    expect(await chat().ask('  ')).toBe(false);
    expect(sent).toHaveLength(0);
  });
});
