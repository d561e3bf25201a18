// What a stored chat thread sends the model, and its name in the thread list.
import { history, IThread, titleOf } from '../chat/chatThreads';

describe('history', () => {
  const thread: IThread = {
    id: 't',
    title: '',
    updated: 0,
    messages: [
      { role: 'user', content: 'first', unanswered: true },
      { role: 'assistant', content: '', finish: 'error', note: 'boom' },
      { role: 'user', content: 'second' },
      { role: 'assistant', content: 'answer', finish: 'length' }
    ]
  };
  it('leaves out unanswered questions and failed answers (user/assistant alternate)', () => {
    expect(history(thread)).toEqual([
      { role: 'user', content: 'second' },
      { role: 'assistant', content: 'answer' }
    ]);
  });
  it('names a thread by its first question', () => {
    expect(titleOf(thread)).toBe('first');
  });
});
