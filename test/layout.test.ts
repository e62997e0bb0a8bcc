/**
 * How paddock writes YAML (src/synth/layout.ts): what it writes reads back the same in a YAML 1.1
 * reader (go-yaml v2 behind sigs.k8s.io/yaml, which Argo CD and kubectl use) as in a 1.2 one.
 */
import { describe, expect, it, vi } from 'vitest';
import YAML from 'yaml';
import jsyaml from 'js-yaml';
import { dumpYaml, fromYaml, toYaml, yamlOfShape } from '../src/synth/layout.ts';

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

describe('toYaml of objects alike', () => {
  const dumps = () => vi.spyOn(jsyaml, 'dump');
  const deployment = (name: string, v: string) => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels: { app: name, v }, annotations: { v } },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'app', image: `r/${name}:1`, args: [v, '--x', v], env: [{ name: 'V', value: v }], ports: [{ containerPort: 8080 }] }] } } },
  });

  it('GIVEN objects of one shape whose strings YAML reads otherwise, in maps, lists and lists of lists THEN each is what a dump gives, byte for byte; once the shape is known, more objects of it make no dump, only their new strings\' scalars', () => {
    const spy = dumps();
    const awkward = [...TRICKY, 'x'.repeat(300), 'paddock-slot-0-2f9d1c', '@at', '*star', '&amp', '!bang', '%pct', '`tick', '{a}', '[a]', ' lead', 'trail ', "it's", 'say "hi"', 'a\rb', 'a\u2028b'];
    const listOfLists = (v: string) => ({ matrix: [[v, 'k'], [v]], empty: [], none: {}, n: null, t: true, f: false, neg: -1.5 });
    expect(toYaml(deployment('seed-1', 'v'))).toBe(dumpYaml(deployment('seed-1', 'v')));
    expect(toYaml(listOfLists('seed'))).toBe(dumpYaml(listOfLists('seed')));
    for (const v of awkward) {
      expect(toYaml(deployment(`svc-${v}`, v)), JSON.stringify(v)).toBe(dumpYaml(deployment(`svc-${v}`, v)));
      expect(toYaml(listOfLists(v)), JSON.stringify(v)).toBe(dumpYaml(listOfLists(v)));
    }
    spy.mockClear();
    for (let i = 0; i < 20; i++) toYaml(deployment(`svc-${i}`, 'v'));
    // No object dumped: only each image (a ':' is no plain character) is a scalar not met before.
    expect(spy.mock.calls.map(([o]) => (o as { k: string }).k)).toEqual(Array.from({ length: 20 }, (_, i) => `r/svc-${i}:1`));
    spy.mockRestore();
  });

  it('GIVEN objects that a careless shape would confuse (numbers for strings, keys that look like the shape\'s marks, a key __proto__, a toStringTag, -0, NaN, holes and undefined, null-prototype objects, Dates) THEN each is what a dump gives, or fails as a dump fails', () => {
    const pairs: unknown[] = [
      { a: 1, b: '2' }, { a: '1', b: 2 }, [1, 23], [12, 3], ['1', 23], { 'a1:b': 1 }, { a: { '1:b': 1 } }, { '$': '$', '#': '#1', '{': '}' }, { z: -0 }, { z: 0 }, { z: Number.NaN },
      { a: 1, 'xy$7:bbbbbbb': 'w' }, { a: 11, xy: 'v', bbbbbbb: 'w' }, { a: 11, xy: true, b: true, ccc: true }, { a: 1, 'xyT1:bT3:ccc': true },
      JSON.parse('{"apiVersion":"v1","data":{"__proto__":"1","other":"x"}}'), JSON.parse('{"apiVersion":"v1","data":{"__proto__":"2","other":"y"}}'), JSON.parse('{"__proto__":{"a":"y"},"b":"y"}'), JSON.parse('{"__proto__":{"a":"z"},"b":"z"}'),
      { a: 'r', [Symbol.toStringTag]: 'Foo' }, Object.assign(['x', 'y'], { [Symbol.toStringTag]: 'Object' }), { k: 's', [Symbol.toStringTag]: 'Array' },
      { z: Number.POSITIVE_INFINITY }, { z: Number.NEGATIVE_INFINITY }, { z: 1.5 }, { z: -1 }, { z: 1e21 }, { z: 5e-100 }, { z: 2 ** 53 + 2 }, { z: 0.1 }, { z: -0 }, { z: '0' }, { z: 8080 },
      { d: new Date(0) }, { a: undefined, b: 'x' }, { list: ['x', undefined] }, { list: ['x', , 'y'] }, Object.assign(Object.create(null), { a: 'x' }), { '': '' }, { list: [[], [[]], {}] }, { deep: { x: 'one\ntwo' } }, { deep: { x: 'one two' } }, { deep: [{ x: 'a\nb' }] },
    ];
    const same = (o: unknown) => {
      let want: string;
      try {
        want = dumpYaml(o);
      } catch (e) {
        return expect(() => toYaml(o), String(o)).toThrow((e as Error).message);
      }
      expect(toYaml(o), JSON.stringify(o)).toBe(want);
    };
    for (let round = 0; round < 3; round++) for (const o of pairs) same(o);
    // Each after the other, so the first's shape is known when the second comes.
    for (let i = 0; i + 1 < pairs.length; i++) for (const o of [pairs[i], pairs[i], pairs[i + 1]]) same(o);
  });
});

describe('toYaml\'s numbers', () => {
  it('GIVEN a shape first met with plain numbers WHEN later objects of it hold numbers a dump writes otherwise (NaN, infinities, exponents, fractions) THEN each is what a dump gives', () => {
    const service = (port: number, replicas: number) => ({ kind: 'Service', spec: { ports: [{ port, targetPort: port }], replicas } });
    for (const [port, replicas] of [[8080, 2], [8081, 3], [Number.NaN, 1], [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], [1e21, 5e-100], [0.1, -1.5], [2 ** 53 + 2, -7], [0, 1]]) {
      expect(toYaml(service(port, replicas)), `${port} ${replicas}`).toBe(dumpYaml(service(port, replicas)));
    }
  });
});

describe('toYaml\'s plain strings', () => {
  it('GIVEN strings of letters, digits and ._/- (every casing of the words YAML reads as bools or nulls among them) in objects of one shape THEN each is what a dump gives', () => {
    const casings = (w: string): string[] => (w ? casings(w.slice(1)).flatMap((rest) => [w[0].toLowerCase() + rest, w[0].toUpperCase() + rest]) : ['']);
    const words = ['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null', 'nan', 'inf', 'e', 'e1', 'x', 'Infinity', 'NaN'].flatMap(casings);
    const alphabet = 'aZ09._/-eEyY';
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const made = Array.from({ length: 2_000 }, () => 'abcXYZ'[Math.floor(random() * 6)] + Array.from({ length: Math.floor(random() * 6) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
    const object = (v: string) => ({ metadata: { name: v, labels: { app: v } }, list: [v, [v]] });
    for (const v of ['seed', 'seed', ...words, ...made, '_x', 'a:b', 'a b', 'a#b', 'ü', 'a\tb']) expect(toYaml(object(v)), JSON.stringify(v)).toBe(dumpYaml(object(v)));
  });
});

describe('yamlOfShape', () => {
  const make = ([name, since]: readonly string[]) => ({
    metadata: { name, labels: { group: name }, annotations: { since } },
    spec: { path: 'retired', list: [name, 'fixed'], nested: { deep: { value: since } } },
  });

  it('GIVEN values YAML reads as something else, quoted, long or not one line THEN each gives what toYaml of the whole object gives, byte for byte', () => {
    const awkward = ['g-1', 'yes', 'on', 'null', '~', '0123', '1e3', '0x1f', '2026-11-23T12:00:00.000Z', 'a: b', '- x', '#c', "it's", 'say "hi"', 'multi\nline', ' lead', 'trail ', '', 'ü', 'x'.repeat(300), '@at', '*star', '&amp', '!bang', '%pct', '`tick', '{a}', '[a]', 'paddock-slot-0-2f9d1c'];
    const key = `test-${Math.random()}`;
    let made = 0;
    const counted = (v: readonly string[]) => (made++, make(v));
    for (const a of awkward) for (const b of ['2026-11-23T12:00:00.000Z', a]) expect(yamlOfShape(key, [a, b], counted)).toBe(dumpYaml(make([a, b])));
    // The shape was used: the object was made to check it, and for the one multi-line value only.
    expect(made).toBe(4 + 2);
  });

  it('GIVEN one shape THEN the object is made for its first values only (with placeholders, with them and with the probes to check the shape); later one-line values are put in', () => {
    let made = 0;
    const counted = (v: readonly string[]) => (made++, make(v));
    const key = `count-${Math.random()}`;
    const at = '2026-11-23T12:00:00.000Z';
    expect(yamlOfShape(key, ['g-1', at], counted)).toBe(dumpYaml(make(['g-1', at])));
    expect(made).toBe(4); // with placeholders, with the values, and with each probe (toYaml's, to check the shape against)
    expect(yamlOfShape(key, ['g-2', at], counted)).toBe(dumpYaml(make(['g-2', at])));
    expect(yamlOfShape(key, ['yes', at], counted)).toBe(dumpYaml(make(['yes', at])));
    expect(made).toBe(4);
    expect(yamlOfShape(key, ['multi\nline', at], counted)).toBe(dumpYaml(make(['multi\nline', at])));
    expect(made).toBe(5);
  });

  it('GIVEN a make that puts a value inside another string, or makes other keys for other values THEN the shape is not used, and the YAML is still toYaml\'s', () => {
    const makes: Array<(v: readonly string[]) => unknown> = [
      ([g]) => ({ path: `groups/${g}`, name: g }),
      ([g]) => ({ description: `retired - ${g}`, name: g }), // after "- ", to the end of its line
      ([g]) => ({ config: `group: ${g}\nkind: x\n`, name: g }), // in a block scalar
      ([g]) => ({ name: g, ...(g ? { since: g } : {}) }),
      ([g]) => ({ name: g || 'never' }),
    ];
    for (const [i, make] of makes.entries()) {
      const key = `other-${i}-${Math.random()}`;
      for (const g of ['g-1', 'b-2', 'yes', '', '1e3', '#x', 'a: b', ' x']) expect(yamlOfShape(key, [g], make)).toBe(dumpYaml(make([g])));
    }
  });
});
