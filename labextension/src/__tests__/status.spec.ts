import { APIError } from '../shared/api';
import { describeStatus, ghostTextHealth, statusFacts, StatusModel, StatusWidget } from '../status/status';
import type { IStatusReply } from '../shared/types';

const READY: IStatusReply = {
  state: 'ready',
  model: 'tiny-b',
  device: 'cpu',
  dtype: 'bfloat16',
  quantization: null,
  progress: null,
  error: null,
  queue: 0,
  load_seconds: 0.4,
  served: 3,
  cancelled: 1,
  stats: {
    process_rss_bytes: 300e6,
    kv_cache_bytes: 2e6,
    kv_cache_entries: 2,
    kv_hit_rate: 0.5,
    kv_token_reuse: 0.25,
    running: 0
  }
};

describe('status', () => {
  it('says ready, and what a switch loads', () => {
    expect(describeStatus(READY)).toBe('Assist: ready · tiny-b');
    expect(
      describeStatus({
        ...READY,
        state: 'loading',
        switching_from: 'tiny-a',
        progress: { stage: 'resolving', fraction: 0.4 }
      })
    ).toBe('Assist: switching to tiny-b (resolving, 40%)');
  });

  it('lists the facts the panel shows', () => {
    const facts = Object.fromEntries(statusFacts(READY));
    expect(facts['Memory']).toBe('process 300.0 MB, KV cache 2.0 MB (2 entries)');
    expect(facts['Cache']).toBe('hit rate 50%, token reuse 25%');
    expect(facts['Queue']).toBe('0 waiting, 0 running');
    expect(facts['Quantization']).toBe('none');
  });

  it('shows a failed ghost text in the status item until one succeeds', () => {
    const model = new StatusModel();
    const widget = new StatusWidget(model, () => undefined);
    expect(widget.node.dataset.ghost).toBe('ok');
    ghostTextHealth.failed(new APIError(503, 'The model is still loading (resolving).'));
    expect(widget.node.dataset.ghost).toBe('failed');
    expect(widget.node.textContent).toContain('ghost text failed');
    expect(widget.node.title).toContain('The model is still loading');
    expect(widget.node.title).toContain('Wait until the status bar says ready');
    ghostTextHealth.succeeded();
    expect(widget.node.dataset.ghost).toBe('ok');
    widget.dispose();
    model.dispose();
  });
});
