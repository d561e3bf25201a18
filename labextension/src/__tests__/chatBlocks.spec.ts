// chatBlocks renders through chatMarkdown (rendermime, an ES module jest does not load):
// splitFences needs none of it.
jest.mock('../chat/chatMarkdown', () => ({ fence: jest.fn() }));

import { splitFences } from '../chat/chatBlocks';

describe('splitFences', () => {
  it('prose, a closed code block, prose', () => {
    const text = 'Use this:\n```python\nx = 1\nprint(x)\n```\nThen run it.';
    expect(splitFences(text)).toEqual([
      { type: 'prose', text: 'Use this:' },
      { type: 'code', lang: 'python', code: 'x = 1\nprint(x)', closed: true },
      { type: 'prose', text: 'Then run it.' }
    ]);
  });

  it('plain prose is one segment, exactly as given', () => {
    expect(splitFences('no code here\n\nat all  ')).toEqual([{ type: 'prose', text: 'no code here\n\nat all  ' }]);
  });

  it('an unclosed fence (still streaming) is an open code block', () => {
    expect(splitFences('Here:\n```py\ndef f():\n    ret')).toEqual([
      { type: 'prose', text: 'Here:' },
      { type: 'code', lang: 'py', code: 'def f():\n    ret', closed: false }
    ]);
  });

  it('the fence line alone so far: an empty open block', () => {
    expect(splitFences('```python')).toEqual([{ type: 'code', lang: 'python', code: '', closed: false }]);
  });

  it('no language, and only the first word of the info string', () => {
    expect(splitFences('```\na\n```')).toEqual([{ type: 'code', lang: '', code: 'a', closed: true }]);
    expect(splitFences('``` python title="x"\na\n```')).toEqual([
      { type: 'code', lang: 'python', code: 'a', closed: true }
    ]);
  });

  it('a shorter or different fence inside does not close the block', () => {
    const text = '````md\n```python\nx\n```\n~~~\n````';
    expect(splitFences(text)).toEqual([{ type: 'code', lang: 'md', code: '```python\nx\n```\n~~~', closed: true }]);
  });

  it('tildes open and a longer closing fence closes', () => {
    expect(splitFences('~~~js\nlet a;\n~~~~~')).toEqual([{ type: 'code', lang: 'js', code: 'let a;', closed: true }]);
  });

  it('a closing fence with text after it is code, not a close', () => {
    expect(splitFences('```\na\n``` not a close\nb')).toEqual([
      { type: 'code', lang: '', code: 'a\n``` not a close\nb', closed: false }
    ]);
  });

  it('backticks in the info string make it no fence (inline code)', () => {
    expect(splitFences('```x` y```')).toEqual([{ type: 'prose', text: '```x` y```' }]);
  });

  it('a fence indented by four spaces is not a fence', () => {
    expect(splitFences('    ```\n    x')).toEqual([{ type: 'prose', text: '    ```\n    x' }]);
  });

  it('two blocks in a row, blank prose between them dropped', () => {
    expect(splitFences('```a\n1\n```\n\n```b\n2\n```')).toEqual([
      { type: 'code', lang: 'a', code: '1', closed: true },
      { type: 'code', lang: 'b', code: '2', closed: true }
    ]);
  });
});
