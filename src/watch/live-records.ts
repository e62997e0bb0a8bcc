/**
 * What the watcher records of the cluster in `state/`, so that every writer renders the same
 * clones: the Deployments clones name by reference (`state/sources/`) and the ConfigMaps of clone
 * rules definitions follow (`state/rules/`). For each kind: the keys wanted (named by the last
 * synthesis, or recorded before), what changed since the records, and what is gone. A key in a
 * namespace not listed yet is left as recorded: missing from an unlisted namespace is not gone.
 * Pure apart from asking the feeds to follow.
 */
import type { RulesRecord, SourceRecord, StateRecords } from '../../core/records.ts';
import type { IntentBody } from '../repo/intents.ts';
import type { RepoView } from '../repo/committer.ts';
import { recordFile } from '../synth/state.ts';
import { sourceRecordOf } from './live-sources.ts';

type Json = Record<string, any>;

/** Live objects of one kind in a cluster (informers), as the watcher needs them. */
export interface SourceFeed {
  /** Objects by `namespace/name`, as last seen (wire JSON). */
  live(): ReadonlyMap<string, Json>;
  /** True once `namespace` has been listed: an object missing from it is really gone. */
  synced(namespace: string): boolean;
  /** Starts following the namespaces of these `namespace/name` keys. */
  follow(keys: readonly string[]): Promise<void>;
}

export interface LiveFeeds {
  /** Deployments that clones name by reference. */
  readonly sources?: SourceFeed;
  /** ConfigMaps of clone rules (`Clone.fromLiveConfigMap`). */
  readonly rules?: SourceFeed;
}

interface LiveKind<R> {
  readonly feed?: SourceFeed;
  /** What people read: `Deployments`, `ConfigMaps`. */
  readonly objects: string;
  readonly wanted: readonly string[];
  readonly recorded: ReadonlyMap<string, R>;
  readonly recordOf: (o: Json) => R;
  readonly textOf: (r: R) => string;
  readonly intent: (records: R[], gone: string[]) => IntentBody;
}

/** The ConfigMap's data as `state/rules/` records it (binaryData is not rules). */
export function rulesRecordOf(o: Json): RulesRecord {
  return { namespace: o.metadata.namespace, name: o.metadata.name, data: { ...(o.data ?? {}) } };
}

function kinds(feeds: LiveFeeds, view: RepoView): [LiveKind<SourceRecord>, LiveKind<RulesRecord>] {
  const state: StateRecords = view.state;
  const keys = (named: readonly string[] | undefined, recorded: ReadonlyMap<string, unknown>) => [...new Set([...(named ?? []), ...recorded.keys()])].sort();
  return [
    {
      feed: feeds.sources, objects: 'Deployments', wanted: keys(view.synth?.sources, state.sources), recorded: state.sources,
      recordOf: sourceRecordOf, textOf: (r) => recordFile.source(r)[1], intent: (records, gone) => ({ kind: 'sources', records, gone }),
    },
    {
      feed: feeds.rules, objects: 'ConfigMaps', wanted: keys(view.synth?.liveRules, state.rules), recorded: state.rules,
      recordOf: rulesRecordOf, textOf: (r) => recordFile.rules(r)[1], intent: (records, gone) => ({ kind: 'rules', records, gone }),
    },
  ];
}

/** What to commit of one kind: records new or changed, and recorded keys whose object is gone. */
export function liveChanges<R>(kind: Pick<LiveKind<R>, 'wanted' | 'recorded' | 'recordOf' | 'textOf'>, live: ReadonlyMap<string, Json>, synced: (namespace: string) => boolean): { records: R[]; gone: string[] } {
  const records: R[] = [];
  const gone: string[] = [];
  for (const key of kind.wanted) {
    if (!synced(key.split('/')[0])) continue;
    const object = live.get(key);
    const before = kind.recorded.get(key);
    if (object) {
      const r = kind.recordOf(object);
      if (!before || kind.textOf(before) !== kind.textOf(r)) records.push(r);
    } else if (before) gone.push(key);
  }
  return { records, gone };
}

/** Follows what `view` wants of each kind, and gives the intents (one per kind at most) that record what changed. */
export async function liveIntents(feeds: LiveFeeds, view: RepoView, warn: (line: string) => void): Promise<IntentBody[]> {
  const out: IntentBody[] = [];
  for (const kind of kinds(feeds, view) as Array<LiveKind<unknown>>) {
    const feed = kind.feed;
    if (!feed) continue;
    try {
      await feed.follow(kind.wanted);
    } catch (e) {
      warn(`following the ${kind.objects} of clones failed: ${String((e as Error)?.message ?? e)}`);
    }
    const { records, gone } = liveChanges(kind, feed.live(), (ns) => feed.synced(ns));
    if (records.length || gone.length) out.push(kind.intent(records, gone));
  }
  return out;
}

/** Why the watcher is not ready yet for live inputs: the namespaces of each kind not listed yet. */
export function unlisted(feeds: LiveFeeds, view: RepoView): string[] {
  return kinds(feeds, view).flatMap((kind) => {
    const feed = kind.feed;
    if (!feed) return [];
    const waiting = [...new Set(kind.wanted.map((k) => k.split('/')[0]))].filter((ns) => !feed.synced(ns)).sort();
    return waiting.length ? [`the ${kind.objects} of ${waiting.join(', ')} are not listed yet`] : [];
  });
}
