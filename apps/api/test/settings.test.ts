// API settings read from the environment: defaults, accepted forms, and start-up errors
// that name the variable.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIZE_LIMITS } from '@curation/sweep-spec';
import { parseTrustProxy, readSettings } from '../src/settings.ts';

describe('TRUST_PROXY', () => {
  it('is off unless set: X-Forwarded-For is not believed', () => {
    expect(readSettings({}).trustProxy).toBe(false);
    for (const off of ['', ' ', 'false', 'FALSE', 'no', '0']) expect(parseTrustProxy(off)).toBe(false);
  });

  it('accepts true, a hop count, or a list of addresses, CIDR ranges and range names', () => {
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('10.0.0.0/8, 192.168.1.7 ,fd00::/8,loopback')).toEqual(['10.0.0.0/8', '192.168.1.7', 'fd00::/8', 'loopback']);
    expect(parseTrustProxy('10.0.0.0/255.0.0.0')).toEqual(['10.0.0.0/255.0.0.0']);
    expect(readSettings({ TRUST_PROXY: '127.0.0.1' }).trustProxy).toEqual(['127.0.0.1']);
  });

  it('refuses anything else, naming the variable and the entry', () => {
    for (const bad of ['maybe', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.1,,x', '1.2.3.4/8/1', '101']) {
      expect(() => parseTrustProxy(bad), bad).toThrow(/^TRUST_PROXY=/);
    }
    expect(() => parseTrustProxy('10.0.0.1, proxy.local')).toThrow('"proxy.local" not understood');
  });
});

describe('spec size limits', () => {
  it('default to DEFAULT_SIZE_LIMITS and are read from MAX_SPEC_*', () => {
    expect(readSettings({}).limits.specSize).toEqual(DEFAULT_SIZE_LIMITS);
    const s = readSettings({ MAX_SPEC_BYTES: '2000000', MAX_SPEC_NODES: '5000', MAX_SPEC_LIST_LENGTH: '300', MAX_SPEC_YAML_ITEMS: '400' });
    expect(s.limits.specSize).toEqual({ maxBytes: 2_000_000, maxNodes: 5000, maxListLength: 300, maxYamlItems: 400 });
    expect(() => readSettings({ MAX_SPEC_NODES: 'lots' })).toThrow(/^MAX_SPEC_NODES="lots" is not an integer/);
  });
});
