/**
 * How paddock writes YAML (src/synth/layout.ts): what it writes reads back the same in a YAML 1.1
 * reader (go-yaml v2 behind sigs.k8s.io/yaml, which Argo CD and kubectl use) as in a 1.2 one.
 */
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { fromYaml, toYaml } from '../src/synth/layout.ts';

const TRICKY = [
  'on', 'off', 'y', 'n', 'yes', 'No', 'TRUE', 'null', 'Null', '~', '', '0123', '0x1f', '0o17', '1_000', '1e3', '.inf', '-.Inf', '.nan',
  '2024-01-01', '2024-01-01T10:00:00Z', '12:30', '1:2:3', '190:20:30.15', '+.5', '1.', '1_0.5', '0.1_2', '0b1_01', '0x_1f', '<<', '=', '- a', 'a: b', '#c', '  x', '"q"', "'s'", 'multi\nline', 'tab\tx', 'ünï',
];

describe('toYaml', () => {
  it('GIVEN strings a YAML reader could take for something else WHEN written THEN a YAML 1.1 reader, a 1.2 reader and fromYaml all read them back as those strings', () => {
    for (const v of TRICKY) {
      const text = toYaml({ metadata: { annotations: { v } }, list: [v], [v || 'empty']: 1 });
      expect(YAML.parse(text, { version: '1.1' }).metadata.annotations.v, `${JSON.stringify(v)} in YAML 1.1:\n${text}`).toBe(v);
      expect(YAML.parse(text, { version: '1.1' }).list).toEqual([v]);
      expect(YAML.parse(text).metadata.annotations.v).toBe(v);
      expect(fromYaml(text).list).toEqual([v]);
    }
  });

  it('GIVEN numbers, booleans and nulls WHEN written THEN they stay numbers, booleans and nulls, in block style without anchors', () => {
    const shared = { a: 1 };
    const text = toYaml({ replicas: 2, ratio: 0.5, on: true, none: null, x: shared, y: shared });
    expect(text).toBe('replicas: 2\nratio: 0.5\n"on": true\nnone: null\nx:\n  a: 1\n"y":\n  a: 1\n');
  });
});
