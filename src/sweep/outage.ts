/**
 * A queue worker's watch on its Redis: its own connection PINGs once a second (no offline queue,
 * so a PING to a Redis that is gone fails at once instead of waiting for it). The first failed PING
 * is an outage (`onDown`, once), the first answer after it the end of it (`onUp`); an outage of
 * `boundMs` is the end of the worker (`onGiveUp`, once): it never sits silently idle on a Redis
 * that is not coming back.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** Why a Redis cannot be reached, in a few words, from a connection error's message. */
export function unreachableReason(msg: string, timeoutMs: number): string {
  if (/Unknown RESP type|Protocol error/i.test(msg)) return 'something answers there, but not a Redis server';
  if (/ECONNREFUSED/.test(msg)) return 'connection refused';
  if (/ENOTFOUND|EAI_AGAIN/.test(msg)) return 'unknown host';
  if (/timeout|ETIMEDOUT/i.test(msg)) return `no answer within ${timeoutMs / 1000} s`;
  if (/ECONNRESET|EPIPE|Connection is closed|isn't writeable/i.test(msg)) return 'connection lost';
  return msg;
}

export interface OutageEvents {
  onDown(why: string): void;
  onUp(downMs: number): void;
  onGiveUp(why: string, downMs: number): void;
}

export class OutageWatch {
  private readonly client: Redis;
  private readonly timer: NodeJS.Timeout;
  private lastOk = Date.now();
  private lastError = '';
  private downWhy: string | null = null;
  private busy = false;
  private stopped = false;

  constructor(options: RedisOptions, private readonly boundMs: number, private readonly ev: OutageEvents, intervalMs = 1000) {
    this.client = new Redis({
      ...options, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 2000,
      retryStrategy: () => Math.min(500, intervalMs), reconnectOnError: () => false,
    });
    this.client.on('error', (e: Error) => (this.lastError = e.message));
    this.timer = setInterval(() => void this.tick(), intervalMs);
  }

  /** True from the first failed PING to the next answer. */
  get down(): boolean {
    return this.downWhy !== null;
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.client.ping();
      if (this.downWhy !== null && !this.stopped) this.ev.onUp(Date.now() - this.lastOk);
      this.downWhy = null;
      this.lastError = '';
      this.lastOk = Date.now();
    } catch (err) {
      if (this.stopped) return;
      const thrown = err instanceof Error ? err.message : String(err);
      const why = unreachableReason(this.lastError && !/timed? ?out/i.test(thrown) ? this.lastError : thrown, 2000);
      if (this.downWhy === null) this.ev.onDown(why);
      this.downWhy = why;
      const downMs = Date.now() - this.lastOk;
      if (downMs >= this.boundMs) {
        this.stop();
        this.ev.onGiveUp(why, downMs);
      }
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.client.disconnect();
  }
}
