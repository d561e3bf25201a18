import { AgentSession, FIX_ATTEMPTS, IAgentHost, IRunResult } from '../agent/agentLoop';
import { isShellEscape } from '../agent/agentShell';
import type { IAgentAction, IAgentRequest } from '../shared/types';

const action = (
  kind: IAgentAction['kind'],
  source = '',
  text = '',
  cell_index: number | null = null
): IAgentAction => ({
  kind,
  source,
  text,
  cell_index,
  notes: []
});
const ERROR = { output_type: 'error', ename: 'NameError', evalue: "name 'x' is not defined", traceback: [] };
const OK = { output_type: 'stream', name: 'stdout', text: '42\n' };

/** A notebook of cells by id, a scripted server, a kernel that answers from a table. */
class FakeHost implements IAgentHost {
  cells: { id: string; source: string; pending: boolean }[] = [{ id: 'user-1', source: 'df = load()', pending: false }];
  requests: IAgentRequest[] = [];
  ran: string[] = [];
  interrupted = 0;
  acceptEdits = true;
  private n = 0;
  running: ((r: IRunResult) => void) | null = null;
  holdRuns = false;
  constructor(
    public answers: IAgentAction[],
    public results: (src: string) => Record<string, unknown>[] = () => [OK]
  ) {}
  context() {
    return { cells: this.cells.map(c => ({ cell_type: 'code' as const, source: c.source })) };
  }
  async next(body: IAgentRequest, signal: AbortSignal): Promise<IAgentAction> {
    this.requests.push(JSON.parse(JSON.stringify(body)));
    if (signal.aborted) {
      throw new Error('aborted');
    }
    return this.answers.shift() ?? action('done', '', 'no more answers');
  }
  insert(_kind: 'code' | 'markdown', source: string, after: string | null): string {
    const id = `agent-${++this.n}`;
    const at = after === null ? this.cells.length : this.cells.findIndex(c => c.id === after) + 1;
    this.cells.splice(at, 0, { id, source, pending: false });
    return id;
  }
  async edit(id: string, source: string) {
    if (this.acceptEdits) {
      this.cells.find(c => c.id === id)!.source = source;
    }
    return this.acceptEdits;
  }
  run(id: string): Promise<IRunResult> {
    const src = this.source(id)!;
    this.ran.push(src);
    if (this.holdRuns) {
      return new Promise(resolve => {
        this.running = resolve;
      });
    }
    return Promise.resolve({ outputs: this.results(src), variables: [] });
  }
  interrupt() {
    this.interrupted++;
  }
  source(id: string) {
    return this.cells.find(c => c.id === id)?.source ?? null;
  }
  indexOf(id: string) {
    const i = this.cells.findIndex(c => c.id === id);
    return i < 0 ? null : i;
  }
  idAt(i: number) {
    return this.cells[i]?.id ?? null;
  }
  setPending(id: string, pending: boolean) {
    const c = this.cells.find(x => x.id === id);
    if (c) {
      c.pending = pending;
    }
  }
}

describe('isShellEscape', () => {
  it.each([
    '!pip install x',
    '%pip install pandas',
    '%%bash\nls',
    'x = 1\n!rm -rf /',
    'files = !ls',
    '  %conda install y',
    '%%sh\necho'
  ])('flags %p', src => expect(isShellEscape(src)).toBe(true));
  it.each(['print("!")', 'x = a != b', '%matplotlib inline', '# !not a command', 'df.query("a != 1")'])(
    'lets %p through',
    src => expect(isShellEscape(src)).toBe(false)
  );
});

describe('AgentSession', () => {
  it('proposes a cell and waits for Run: auto-run off runs nothing', async () => {
    const host = new FakeHost([action('code', 'print(x)\n')]);
    const s = new AgentSession(host);
    await s.start('find x');
    expect(s.state).toBe('waiting-run');
    expect(host.ran).toEqual([]);
    expect(host.cells[1]).toMatchObject({ source: 'print(x)\n', pending: true }); // below the last cell
  });

  it('runs on the click, sends the error back, gets a fix as an edit, runs it and finishes', async () => {
    const host = new FakeHost(
      [
        action('code', 'print(x)\n'),
        action('edit', 'x = 42\nprint(x)\n', 'define x', 1),
        action('done', '', 'x is 42')
      ],
      src => (src.startsWith('x = 42') ? [OK] : [ERROR])
    );
    const s = new AgentSession(host);
    await s.start('find x');
    await s.run();
    // The request after the failed run carries the cell, its error, where it is now.
    expect(host.requests[1].steps[0]).toMatchObject({
      kind: 'code',
      source: 'print(x)\n',
      cell_index: 1,
      ran: true,
      outputs: [ERROR]
    });
    expect(s.state).toBe('waiting-run'); // the accepted fix waits for Run too
    await s.run();
    expect(host.ran).toEqual(['print(x)\n', 'x = 42\nprint(x)\n']);
    expect(s.state).toBe('done');
    expect(s.message).toBe('x is 42');
    expect(s.cards.map(c => c.status)).toEqual(['error', 'ran', 'info']);
  });

  it("sees the user's edit of a pending cell", async () => {
    const host = new FakeHost([action('code', 'print(y)\n')]);
    const s = new AgentSession(host);
    await s.start('g');
    host.cells[1].source = 'print(y + 1)\n';
    await s.run();
    expect(host.ran).toEqual(['print(y + 1)\n']);
    expect(host.requests[1].steps[0]).toMatchObject({ source: 'print(y + 1)\n', edited: true });
  });

  it('auto-run runs its own cells but never a shell escape', async () => {
    const host = new FakeHost([action('code', 'print(1)\n'), action('code', '!pip install foo\n')]);
    const s = new AgentSession(host);
    s.autoRun = true;
    await s.start('g');
    expect(host.ran).toEqual(['print(1)\n']);
    expect(s.state).toBe('waiting-run');
    expect(s.message).toMatch(/shell command/);
  });

  it("auto-run never runs a cell it did not write (an edit of the user's cell)", async () => {
    const host = new FakeHost([action('edit', 'df = load(2)', '', 0)]);
    const s = new AgentSession(host);
    s.autoRun = true;
    await s.start('g');
    expect(host.ran).toEqual([]);
    expect(s.state).toBe('waiting-run');
  });

  it(`asks the user after ${FIX_ATTEMPTS} failed runs in a row`, async () => {
    const host = new FakeHost(
      [1, 2, 3, 4].map(i => action('code', `fail${i}()\n`)),
      () => [ERROR]
    );
    const s = new AgentSession(host);
    s.autoRun = true;
    await s.start('g');
    expect(host.ran.length).toBe(FIX_ATTEMPTS);
    expect(s.state).toBe('waiting-answer');
    expect(host.requests.length).toBe(FIX_ATTEMPTS); // no request after the third failure
    await s.answer('import it first');
    expect(host.requests[FIX_ATTEMPTS].steps[FIX_ATTEMPTS]).toMatchObject({ kind: 'ask', reply: 'import it first' });
  });

  it('ends at the step budget', async () => {
    const host = new FakeHost(Array.from({ length: 20 }, (_, i) => action('markdown', `note ${i}`)));
    const s = new AgentSession(host, 10);
    await s.start('g');
    expect(s.cards.length).toBe(10);
    expect(host.requests.length).toBe(10);
    expect(s.state).toBe('done');
  });

  it('Stop interrupts a running agent cell and asks nothing more', async () => {
    const host = new FakeHost([action('code', 'sleep()\n')]);
    host.holdRuns = true;
    const s = new AgentSession(host);
    s.autoRun = true;
    const started = s.start('g');
    await new Promise(r => setTimeout(r, 0));
    expect(s.state).toBe('running');
    s.stop();
    expect(host.interrupted).toBe(1);
    host.running!({ outputs: [ERROR], variables: [] });
    await started;
    expect(s.state).toBe('stopped');
    expect(host.requests.length).toBe(1);
  });

  it('a rejected edit and an error action go back to the model', async () => {
    const host = new FakeHost([
      action('edit', 'z', '', 0),
      action('error', '', 'fits no action'),
      action('done', '', 'ok')
    ]);
    host.acceptEdits = false;
    const s = new AgentSession(host);
    await s.start('g');
    expect(host.requests[2].steps.map(x => x.kind)).toEqual(['edit', 'error']);
    expect(host.requests[2].steps[0]).toMatchObject({ reply: 'The user rejected the change.', ran: false });
    expect(s.state).toBe('done');
  });

  it("each card keeps its step's request (the Prompt link); the run's variables go to the next step", async () => {
    const host = new FakeHost([action('code', 'x = 1\n'), action('done', '', 'ok')]);
    const vars = [{ name: 'x', type: 'int', summary: '1' }];
    host.run = async () => ({ outputs: [OK], variables: vars });
    const s = new AgentSession(host);
    s.autoRun = true;
    await s.start('g');
    expect(s.cards.map(c => JSON.parse(JSON.stringify(c.request)))).toEqual(host.requests);
    expect(s.cards[1].request!.steps[0]).toMatchObject({ kind: 'code', variables: vars });
  });
});
