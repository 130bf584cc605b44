import { env } from '@/config/env';
import { type ServerSentEvent, SseParser } from '@/lib/sse-parser';

/**
 * Where the live connection stands, for the indicator in the header:
 * - connecting: the first connection is being opened;
 * - open: events flow; `recoveredFrom` is set when this connection replaced one that was lost;
 * - reconnecting: the connection was lost at `lostAt`; the next try is at `retryAt`;
 * - stopped: given up for good (the token was refused).
 */
export type StreamStatus =
  | { state: 'connecting' }
  | { state: 'open'; since: number; recoveredFrom: { lostAt: number } | null }
  | { state: 'reconnecting'; lostAt: number; retryAt: number; attempt: number; reason: string }
  | { state: 'stopped'; reason: string };

export type EventStreamOptions = {
  token: string;
  onEvent: (event: ServerSentEvent) => void;
  onStatus: (status: StreamStatus) => void;
  /** The service refused the token: the session is over, do not retry. */
  onUnauthorized: () => void;
  /** Milliseconds to wait before reconnect attempt `attempt` (0-based). */
  backoff?: (attempt: number) => number;
  /**
   * The service sends a keep-alive comment every 15 s; silence for this long means the
   * connection is dead even if TCP has not noticed yet.
   */
  silenceTimeoutMs?: number;
  path?: string;
};

/** 1 s, 2 s, 4 s … capped at 30 s: fast after a blip, gentle on a service that is down. */
export function defaultBackoff(attempt: number): number {
  return Math.min(30_000, 1_000 * 2 ** attempt);
}

/**
 * Follows `GET /api/v1/events/stream` with fetch and a stream reader rather than EventSource,
 * because EventSource cannot send the bearer token. Resumes from the last event id with
 * Last-Event-ID after any loss, so no event is missed, and backs off between attempts.
 */
export function openEventStream(options: EventStreamOptions): { close: () => void } {
  const backoff = options.backoff ?? defaultBackoff;
  const silenceTimeoutMs = options.silenceTimeoutMs ?? 45_000;
  const url = new URL(`${env.apiBaseUrl}${options.path ?? '/api/v1/events/stream'}`, window.location.href);
  let closed = false;
  let unauthorized = false;
  let lastEventId: string | null = null;
  let current: AbortController | null = null;
  let wakeUp: (() => void) | null = null;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Reads one connection until it ends; returns why it ended, or null when closed on purpose. */
  async function follow(onOpen: () => void): Promise<string | null> {
    const controller = new AbortController();
    current = controller;
    let silence: ReturnType<typeof setTimeout> | undefined;
    let silent = false;
    const armSilence = () => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        silent = true;
        controller.abort();
      }, silenceTimeoutMs);
    };
    try {
      const headers = new Headers({ Accept: 'text/event-stream', Authorization: `Bearer ${options.token}` });
      if (lastEventId !== null) headers.set('Last-Event-ID', lastEventId);
      armSilence();
      const response = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
      if (response.status === 401) {
        closed = true;
        unauthorized = true;
        options.onUnauthorized();
        return null;
      }
      if (!response.ok || !response.body) return `the service answered ${response.status}`;
      onOpen();
      const parser = new SseParser(lastEventId);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'the service ended the stream';
        armSilence();
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          lastEventId = parser.lastEventId;
          options.onEvent(event);
        }
        lastEventId = parser.lastEventId;
      }
    } catch (error) {
      if (closed) return null;
      if (silent) return `no data for ${Math.round(silenceTimeoutMs / 1000)} s`;
      return error instanceof Error ? error.message || 'network error' : 'network error';
    } finally {
      clearTimeout(silence);
      if (current === controller) current = null;
    }
  }

  async function run() {
    let attempt = 0;
    let lostAt: number | null = null;
    options.onStatus({ state: 'connecting' });
    while (!closed) {
      const reason = await follow(() => {
        attempt = 0;
        options.onStatus({ state: 'open', since: Date.now(), recoveredFrom: lostAt === null ? null : { lostAt } });
        lostAt = null;
      });
      if (closed || reason === null) break;
      lostAt ??= Date.now();
      const delay = backoff(attempt);
      options.onStatus({ state: 'reconnecting', lostAt, retryAt: Date.now() + delay, attempt: attempt + 1, reason });
      attempt += 1;
      await sleep(delay);
    }
    options.onStatus({ state: 'stopped', reason: unauthorized ? 'the token was refused' : 'closed' });
  }

  void run();
  return {
    close() {
      closed = true;
      current?.abort();
      wakeUp?.();
    },
  };
}
