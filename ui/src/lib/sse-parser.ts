/** One server-sent event as the stream delivered it. */
export type ServerSentEvent = { id: string | null; event: string; data: string };

/**
 * Incremental parser of the text/event-stream format (WHATWG HTML §9.2.6): feed it chunks as
 * they arrive, in any split, and it returns the events completed so far. Comments (": …", used
 * for keep-alives) and unknown fields are skipped; `lastEventId` is what a reconnect sends as
 * Last-Event-ID.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private eventType = '';
  private pendingId: string | null = null;
  private sawCr = false;
  lastEventId: string | null = null;
  /** Reconnection delay the server asked for with a retry: field, if any. */
  retryMs: number | null = null;

  constructor(lastEventId: string | null = null) {
    this.lastEventId = lastEventId;
  }

  push(chunk: string): ServerSentEvent[] {
    const events: ServerSentEvent[] = [];
    let text = chunk;
    // A \r\n split across two chunks must not count as two line ends.
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1);
    this.sawCr = text.endsWith('\r');
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): ServerSentEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.pendingId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  private dispatch(): ServerSentEvent | null {
    if (this.pendingId !== null) {
      this.lastEventId = this.pendingId;
      this.pendingId = null;
    }
    const event =
      this.data.length > 0
        ? { id: this.lastEventId, event: this.eventType || 'message', data: this.data.join('\n') }
        : null;
    this.data = [];
    this.eventType = '';
    return event;
  }
}
