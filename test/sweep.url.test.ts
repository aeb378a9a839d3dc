/** Redis URLs of `--queue` (src/sweep/queue.ts parseQueueUrl): TLS, users, passwords never shown. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { parseQueueUrl } from '../src/sweep/queue.js';

describe('--queue URL', () => {
  it('redis:// with defaults; rediss:// turns TLS on; user, password and db are passed on but never shown', () => {
    const a = parseQueueUrl('redis://localhost', {});
    expect(a.options).toMatchObject({ host: 'localhost', port: 6379, db: 0 });
    expect(a.options.password).toBeUndefined();
    expect(a.options.tls).toBeUndefined();
    const b = parseQueueUrl('rediss://alice:s%40cret@redis.example.org:6380/2', {});
    expect(b.options).toMatchObject({ host: 'redis.example.org', port: 6380, db: 2, username: 'alice', password: 's@cret', tls: { servername: 'redis.example.org' } });
    expect(b.shown).toBe('rediss://alice:***@redis.example.org:6380/2');
    expect(b.shown).not.toContain('cret');
    const c = parseQueueUrl('redis://10.0.0.5:7000', { ICL_LAB_REDIS_PASSWORD: 'from-env' });
    expect(c.options.password).toBe('from-env');
    expect(c.shown).toBe('redis://10.0.0.5:7000');
  });

  it('anything else is a usage error that does not echo a password', () => {
    for (const [url, re] of [['http://h:1', /redis:\/\/ or rediss:\/\//], ['not a url', /must be a Redis URL/], ['redis://h/x', /database number/]] as const) {
      expect(() => parseQueueUrl(url, {})).toThrow(UsageError);
      expect(() => parseQueueUrl(url, {})).toThrow(re);
    }
    try {
      parseQueueUrl('redis//:hunter2@host', {});
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
