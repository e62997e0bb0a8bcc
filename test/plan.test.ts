/**
 * The committer's plan, without git (src/repo/plan.ts): what a batch of intents makes of the
 * repo as fetched, and the mass-removal guard as its own step. The committer's own tests drive
 * the same plan through a real bare repo.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, type StateRecords } from '../core/records.ts';
import { isUserError } from '../src/errors.ts';
import { Guard, plan, type Tree } from '../src/repo/plan.ts';
import { decideSettings } from '../src/repo/settings.ts';
import { SynthCache, synthesize, synthesizeStaged, synthInputs } from '../src/synth/synthesize.ts';
import { groupsSource, loadSet, rid, testWriter } from './helpers/repo.ts';

const NOW = new Date('2026-11-23T12:00:00.000Z');
const settings = decideSettings(undefined, testWriter('https://git.test/m.git'));
const inputs = (state: StateRecords) => synthInputs(settings.record, state, testWriter('x').gcSecret);
const EMPTY: Tree = { files: new Map(), state: EMPTY_STATE };

describe('the plan of a commit', () => {
  it('GIVEN an empty repo and definitions WHEN a sync is planned THEN the tree holds apps/, groups/, the settings and a creation record per group, and every path is new', async () => {
    const defs = await loadSet({ 'g.ts': groupsSource(3) });
    const p = await plan({ tree: EMPTY, definitions: defs, intents: [{ body: { kind: 'sync', summary: 's' }, requestId: rid(), requestedBy: 't' }], settings, now: NOW, inputs, cache: new SynthCache() });
    expect(p.outcomes.map((o) => (o instanceof Error ? o.message : o.status))).toEqual(['applied']);
    expect(p.changed).toEqual([...p.files.keys()].sort());
    for (const g of ['g-0', 'g-1', 'g-2']) {
      expect(p.files.has(`apps/${g}.yaml`)).toBe(true);
      expect(p.files.has(`state/groups/${g}.yaml`)).toBe(true);
    }
    expect(p.files.has('state/settings.yaml')).toBe(true);
    expect(p.state.groups.get('g-1')?.createdAt).toBe(NOW.toISOString());
  });

  it('GIVEN that tree WHEN a removal of a known and of an unknown group are planned THEN one is applied (emptied Application, retiring record), the other is UnknownGroup, in the order given', async () => {
    const defs = await loadSet({ 'g.ts': groupsSource(3) });
    const cache = new SynthCache();
    const first = await plan({ tree: EMPTY, definitions: defs, intents: [], settings, now: NOW, inputs, cache });
    const tree: Tree = { files: first.files, state: first.state };
    const p = await plan({
      tree, definitions: defs, settings: decideSettings(first.state.settings, testWriter('https://git.test/m.git')), now: NOW, inputs, cache,
      intents: [
        { body: { kind: 'remove', group: 'nope', reason: 'gc' }, requestId: rid(), requestedBy: 't' },
        { body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 't' },
      ],
    });
    const [unknown, applied] = p.outcomes;
    expect(isUserError(unknown) && unknown.code).toBe('UnknownGroup');
    expect(applied).toMatchObject({ status: 'applied' });
    expect(p.changed).toEqual(expect.arrayContaining(['apps/g-1.yaml', 'groups/g-1/configmap-cm-g-1.yaml', 'state/removals/g-1.yaml', 'state/retiring/g-1.yaml']));
    expect(p.files.get('apps/g-1.yaml')).toMatch(/path: retired/);
    expect(p.files.has('groups/g-1/configmap-cm-g-1.yaml')).toBe(false);
    expect(p.changed.some((f) => f.includes('g-0') || f.includes('g-2'))).toBe(false);
  });

  it('GIVEN a synthesis WHEN the same definitions and the same state are synthesized again THEN it is reused; another state, other definitions or other settings THEN synthesized anew', async () => {
    const cache = new SynthCache();
    const defs = await loadSet({ 'g.ts': groupsSource(2) });
    const first = await synthesize(defs.definitions, inputs(EMPTY_STATE), cache);
    // The watcher's check of a set, then its commit cycle's guard and plan on the same fetched state.
    expect(await synthesize([...defs.definitions].reverse(), inputs(EMPTY_STATE), cache)).toBe(first);
    // A state with a removal: g-1 is no longer rendered.
    const removed: StateRecords = { ...EMPTY_STATE, removals: new Map([['g-1', { group: 'g-1', reason: 'gc', removedAt: NOW.toISOString(), requestId: 'r', requestedBy: 't' }]]) } as StateRecords;
    const other = await synthesize(defs.definitions, inputs(removed), cache);
    expect(other).not.toBe(first);
    expect(other.files.has('apps/g-1.yaml')).toBe(false);
    const again = await loadSet({ 'g.ts': groupsSource(3) });
    expect((await synthesize(again.definitions, inputs(removed), cache)).files.has('apps/g-2.yaml')).toBe(true);
    const elsewhere = synthInputs({ ...settings.record, argo: { ...settings.record.argo, repoURL: 'https://elsewhere.test/m.git' } }, removed, testWriter('x').gcSecret);
    const moved = await synthesize(again.definitions, elsewhere, cache);
    expect(moved.files.get('apps/g-0.yaml')).toMatch(/repoURL: https:\/\/elsewhere\.test\/m\.git/);
  });

  it('GIVEN a plan whose intents write nothing THEN its synthesis is the one already made (its state is the tree\'s own)', async () => {
    const cache = new SynthCache();
    const defs = await loadSet({ 'g.ts': groupsSource(2) });
    const first = await plan({ tree: EMPTY, definitions: defs, intents: [], settings, now: NOW, inputs, cache });
    const tree: Tree = { files: first.files, state: first.state };
    const known = await synthesize(defs.definitions, inputs(tree.state), cache);
    const p = await plan({ tree, definitions: defs, intents: [{ body: { kind: 'sync', summary: 's' }, requestId: rid(), requestedBy: 't' }], settings: decideSettings(first.state.settings, testWriter('https://git.test/m.git')), now: NOW, inputs, cache });
    expect(p.state).toBe(tree.state);
    expect(p.result).toBe(known);
    expect(p.changed).toEqual([]);
  });

  it('GIVEN retiring records synthesized with one cache THEN each record\'s emptied Application follows that record: a new since, retired, and a record gone', async () => {
    const defs = await loadSet({ 'g.ts': groupsSource(1) });
    const cache = new SynthCache();
    const at = (since: string, retiredAt?: string) => ({ group: 'old', since, namespace: 'ns-old', destination: { server: 'https://kubernetes.default.svc' }, ...(retiredAt ? { retiredAt } : {}) });
    const synth = (retiring: Map<string, ReturnType<typeof at>>) => synthesize(defs.definitions, inputs({ ...EMPTY_STATE, retiring }), cache);
    const first = await synth(new Map([['old', at('2026-11-23T10:00:00.000Z')]]));
    expect(first.files.get('apps/old.yaml')).toContain('paddock.dev/retiring-since: "2026-11-23T10:00:00.000Z"');
    expect(first.files.get('apps/paddock.appproject.yaml')).toContain('namespace: ns-old');
    const later = await synth(new Map([['old', at('2026-11-23T11:00:00.000Z')]]));
    expect(later.files.get('apps/old.yaml')).toContain('paddock.dev/retiring-since: "2026-11-23T11:00:00.000Z"');
    const retired = await synth(new Map([['old', at('2026-11-23T11:00:00.000Z', '2026-11-23T12:00:00.000Z')]]));
    expect(retired.files.has('apps/old.yaml')).toBe(false);
    expect(retired.files.get('apps/paddock.appproject.yaml')).toContain('namespace: ns-old');
    const gone = await synth(new Map());
    expect(gone.files.has('apps/old.yaml')).toBe(false);
    expect(gone.files.get('apps/paddock.appproject.yaml')).not.toContain('namespace: ns-old');
  });

  it('GIVEN a staged synthesis WHEN it is finished with other retiring records THEN it gives what a whole synthesis gives, each finish on its own; with the staged state, the synthesis already made', async () => {
    const defs = await loadSet({ 'g.ts': groupsSource(3) });
    const cache = new SynthCache();
    const first = await synthesize(defs.definitions, inputs(EMPTY_STATE), cache);
    const staged = await synthesizeStaged(defs.definitions, inputs(EMPTY_STATE), cache);
    expect(staged.groups.map((g) => g.name)).toEqual(['g-0', 'g-1', 'g-2']);
    expect(staged.finish(inputs(EMPTY_STATE))).toBe(first);
    const record = (group: string) => ({ group, since: NOW.toISOString(), namespace: `ns-${group}`, destination: { server: 'https://kubernetes.default.svc' }, clusterKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }] });
    // One group gone, and one rendered again (its own Application wins over the emptied one).
    const retiring = { ...EMPTY_STATE, retiring: new Map([['gone', record('gone')], ['g-1', record('g-1')]]) };
    const kept = staged.finish(inputs(retiring));
    const whole = await synthesize(defs.definitions, inputs(retiring), new SynthCache());
    expect([...kept.files]).toEqual([...whole.files]);
    expect({ ...kept, files: undefined }).toEqual({ ...whole, files: undefined });
    expect(kept.files.get('apps/gone.yaml')).toMatch(/path: retired/);
    expect(kept.files.get('apps/paddock.appproject.yaml')).toContain('ns-gone');
    expect(first.files.has('apps/gone.yaml')).toBe(false);
    // Finished again with no retiring records: nothing of the other finish is left over.
    const none = staged.finish(inputs({ ...EMPTY_STATE }));
    expect([...none.files]).toEqual([...first.files]);
    // Staged anew from a state with those records: what the whole synthesis gave.
    const again = await synthesizeStaged(defs.definitions, inputs(retiring), new SynthCache());
    expect([...again.finish(inputs(retiring)).files]).toEqual([...whole.files]);
  });

  it('GIVEN a repo of 8 groups WHEN definitions that keep 2 are checked THEN the guard refuses them and keeps the last trusted ones; allowed, or a small change, THEN it lets them through', async () => {
    const cache = new SynthCache();
    const eight = await loadSet({ 'g.ts': groupsSource(8) }, 1);
    const first = await plan({ tree: EMPTY, definitions: eight, intents: [], settings, now: NOW, inputs, cache });
    const tree: Tree = { files: first.files, state: first.state };
    const guard = new Guard();
    expect(await guard.check(eight, tree, inputs(tree.state), cache)).toEqual({ use: eight });
    const two = await loadSet({ 'g.ts': groupsSource(2) }, 2);
    const refused = await guard.check(two, tree, inputs(tree.state), cache);
    expect(refused.use).toBe(eight);
    expect(refused.refused?.code).toBe('MassRemovalRefused');
    expect(refused.refused?.message).toMatch(/would remove 6 of 8 groups/);
    expect((await new Guard().check(two, tree, inputs(tree.state), cache, true)).use).toBe(two);
    const seven = await loadSet({ 'g.ts': groupsSource(7) }, 3);
    expect(await guard.check(seven, tree, inputs(tree.state), cache)).toEqual({ use: seven });
    const none = await loadSet({}, 4);
    expect((await new Guard().check(none, tree, inputs(tree.state), cache)).refused?.message).toMatch(/no definitions could be read/);
  });
});
