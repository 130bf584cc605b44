import { describe, expect, it } from 'vitest';

import { formatLabels, parseLabels } from '@/lib/labels';

describe('labels text', () => {
  it('reads pairs separated by lines or commas, and writes them back sorted', () => {
    const parsed = parseLabels('tier=gold, app=db\n\nowner=team-a ');
    expect(parsed).toEqual({ labels: { tier: 'gold', app: 'db', owner: 'team-a' }, error: null });
    expect(formatLabels(parsed.labels, ', ')).toBe('app=db, owner=team-a, tier=gold');
  });

  it('accepts an empty value and refuses a pair without a key or given twice', () => {
    expect(parseLabels('flag=').labels).toEqual({ flag: '' });
    expect(parseLabels('=x').error).toMatch(/not key=value/);
    expect(parseLabels('app=a,app=b').error).toMatch(/given twice/);
  });
});
