/**
 * Intents on a draft of `state/`, without git (src/repo/intents.ts): an intent already in
 * effect changes nothing, even later, when the clock would make a record of it differ.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, type WorkspaceRecord } from '../core/records.ts';
import { applyIntent, StateDraft } from '../src/repo/intents.ts';
import { rid } from './helpers/repo.ts';

const WORKSPACE: WorkspaceRecord = { name: 'ada', email: 'ada@example.com', ram: 1, cpu: 1, storage: '10Gi', publicKey: 'ssh-ed25519 AAAA', port: 30000, createdAt: '2026-11-30T09:00:00.000Z' };
const draftAt = (at: string, workspace: WorkspaceRecord) => new StateDraft({ ...EMPTY_STATE, workspaces: new Map([[workspace.name, workspace]]) }, new Date(at), new Set());
const power = (on: boolean) => ({ body: { kind: 'workspace-power', name: 'ada', on } as const, requestId: rid(), requestedBy: 'test' });

describe('workspace stop and start', () => {
  it('GIVEN a stopped workspace WHEN it is stopped again later THEN nothing changes: it keeps the time it was stopped', () => {
    const stopped = applyIntent(draftAt('2026-11-30T10:00:00.000Z', WORKSPACE), power(false));
    expect(stopped.status).toBe('applied');
    const record = stopped.value as WorkspaceRecord;
    expect(record.stoppedAt).toBe('2026-11-30T10:00:00.000Z');

    const later = draftAt('2026-11-30T11:00:00.000Z', record);
    const again = applyIntent(later, power(false));
    expect([again.status, (again.value as WorkspaceRecord).stoppedAt]).toEqual(['unchanged', '2026-11-30T10:00:00.000Z']);
    expect(later.writes.size).toBe(0);
  });

  it('GIVEN a running workspace WHEN it is started THEN nothing changes; WHEN a stopped one is started THEN its record loses stoppedAt', () => {
    const running = draftAt('2026-11-30T10:00:00.000Z', WORKSPACE);
    expect(applyIntent(running, power(true)).status).toBe('unchanged');
    expect(running.writes.size).toBe(0);
    const draft = draftAt('2026-11-30T11:00:00.000Z', { ...WORKSPACE, stoppedAt: '2026-11-30T10:00:00.000Z' });
    const started = applyIntent(draft, power(true));
    expect(started.status).toBe('applied');
    expect((started.value as WorkspaceRecord).stoppedAt).toBeUndefined();
    expect([...draft.writes.keys()]).toEqual(['state/workspaces/ada.yaml']);
  });
});
