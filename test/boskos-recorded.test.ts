/**
 * paddock's leases answer as the real Boskos does (issue: "/metric counts match Boskos for the
 * same sequence of calls"): test/boskos/metric-sequence.ts runs against a real paddock sidecar
 * on loopback, and every step's status, state, owner and `/metric` counts must equal what the
 * real Boskos answered to the same calls (test/boskos/recorded/metric-sequence.json, written by
 * test/boskos/record.sh from the Boskos build the client harness pins).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POOL, runSequence, type Step } from './boskos/metric-sequence.ts';
import { poolSource } from './helpers/repo.ts';
import { startSidecar, type TestSidecar } from './helpers/sidecar.ts';

const recorded = JSON.parse(readFileSync(path.join(import.meta.dirname, 'boskos/recorded/metric-sequence.json'), 'utf8')) as { recordedFrom: string; steps: Step[] };

describe(`leases against ${recorded.recordedFrom}'s recorded answers`, () => {
  let s: TestSidecar;
  beforeAll(async () => {
    s = await startSidecar({ files: { 'pool.ts': poolSource(POOL.type, POOL.names.length) } });
  });
  afterAll(() => s.close());

  it('GIVEN the pool Boskos answered from WHEN the same calls are made to paddock THEN each step answers as Boskos did', async () => {
    expect(s.ranch.list(POOL.type).map((r) => r.name)).toEqual([...POOL.names]);
    const steps = await runSequence(s.url);
    expect(steps.map((x) => x.step)).toEqual(recorded.steps.map((x) => x.step));
    for (const [i, step] of steps.entries()) expect(step, step.step).toEqual(recorded.steps[i]);
  });
});
