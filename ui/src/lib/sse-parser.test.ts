import { describe, expect, it } from 'vitest';

import { SseParser } from '@/lib/sse-parser';

describe('SseParser', () => {
  it('parses events split across chunks anywhere, with ids, names and multi-line data', () => {
    const parser = new SseParser();
    const text =
      ': faultline events after id 0\n\nid: 7\nevent: region.attached\ndata: {"id":7,\ndata: "kind":"region.attached"}\n\nid: 8\r\nevent: restore.active\r\ndata: {}\r\n\r\n';
    const events = [];
    for (let i = 0; i < text.length; i += 5) events.push(...parser.push(text.slice(i, i + 5)));

    expect(events).toEqual([
      { id: '7', event: 'region.attached', data: '{"id":7,\n"kind":"region.attached"}' },
      { id: '8', event: 'restore.active', data: '{}' },
    ]);
    expect(parser.lastEventId).toBe('8');
  });

  it('ignores keep-alive comments and does not dispatch an event without data', () => {
    const parser = new SseParser('3');
    expect(parser.push(':keep-alive\n\n')).toEqual([]);
    expect(parser.push('id: 4\n\n')).toEqual([]);
    expect(parser.lastEventId).toBe('4');
  });

  it('keeps an incomplete event until its blank line arrives', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\ndata: x')).toEqual([]);
    expect(parser.push('yz\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ id: '1', event: 'message', data: 'xyz' }]);
  });

  it('reads a retry hint', () => {
    const parser = new SseParser();
    parser.push('retry: 5000\n\n');
    expect(parser.retryMs).toBe(5000);
  });
});
