/**
 * Bad input of every kind gets a 4xx with a readable {error, code}, never a 5xx, and the
 * manifests repo's HEAD does not move.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcUrl } from '../core/gc-token.ts';
import { gitOut, groupsSource, poolSource } from './helpers/repo.ts';
import { API_TOKEN, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { TEST_SECRET } from './helpers/synth.ts';

interface Case {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly type?: string;
  readonly auth?: string;
}

function cases(base: (group: string) => string): Case[] {
  const out: Case[] = [];
  const bodies = ['{', '}', 'null', '[]', '"x"', '42', 'true', '{"label": 5}', '{"label": null}', '{"label": ["group_id=g-0"]}', '{"label": "app=web"}',
    '{"label": "group_id="}', '{"group": ""}', '{"group": "G_0"}', '{"group": "../etc"}', '{"group": 7}',
    '{"label":"group_id=' + 'a'.repeat(300) + '"}', '\u0000', 'label=group_id=g-0', '{"label": "group_id=g-0"', '{"label": "group_id=g-0,', '{"group": "g-0" "x"}'];
  for (const body of bodies) out.push({ method: 'POST', path: base('g-0').replace(/^https?:\/\/[^/]+/, ''), body, type: 'application/json' });
  const tokens = ['x', 'a'.repeat(43).replace(/a$/, '!'), '%2e%2e', '..%2F..%2Fetc%2Fpasswd', 'A'.repeat(44), 'A'.repeat(42), '%00', 'null'];
  for (const t of tokens) out.push({ method: 'POST', path: `/gc/${t}`, body: '{"label":"group_id=g-0"}', type: 'application/json' });
  for (const g of ['g-1', 'g-2', 'nope']) out.push({ method: 'POST', path: base('g-0').replace(/^https?:\/\/[^/]+/, ''), body: JSON.stringify({ label: `group_id=${g}` }), type: 'application/json' });
  out.push({ method: 'POST', path: base('g-0').replace(/^https?:\/\/[^/]+/, ''), body: JSON.stringify({ label: 'group_id=g-0', pad: 'x'.repeat(70 * 1024) }), type: 'application/json' });
  // Boskos routes with missing or wrong parameters
  const leaseQueries = ['', '?type=', '?type=p&state=free', '?type=p&owner=o', '?state=free&owner=o', '?type=nope&state=free&owner=o', `?type=p&state=free&owner=${'o'.repeat(300)}`];
  for (const q of leaseQueries) for (const p of ['/acquire', '/start', '/request']) out.push({ method: 'POST', path: `${p}${q}` });
  for (const q of ['', '?name=nope&dest=free&owner=o', '?name=p-1&dest=free', '?name=p-1&owner=o', '?name=p-1&dest=free&owner=intruder']) for (const p of ['/release', '/done']) out.push({ method: 'POST', path: `${p}${q}` });
  for (const q of ['', '?name=p-1', '?name=p-1&owner=o', '?name=nope&owner=o&state=busy', '?name=p-1&owner=intruder&state=free']) out.push({ method: 'POST', path: `/update${q}` });
  out.push({ method: 'POST', path: '/update?name=p-1&owner=o&state=free', body: '{"a": 1}', type: 'application/json' });
  out.push({ method: 'POST', path: '/update?name=p-1&owner=o&state=free', body: '[1,2]', type: 'application/json' });
  out.push({ method: 'POST', path: '/update?name=p-1&owner=o&state=free', body: 'not json', type: 'application/json' });
  for (const q of ['', '?type=p&state=busy&dest=dirty', '?type=p&state=busy&expire=soon&dest=dirty', '?type=p&state=busy&expire=-5m&dest=dirty']) out.push({ method: 'POST', path: `/reset${q}` });
  for (const q of ['', '?state=free&dest=busy&owner=o', '?state=free&dest=busy&owner=o&names=', '?state=free&dest=busy&owner=o&names=nope', '?state=free&dest=busy&owner=o&names=p-1,p-1,nope']) out.push({ method: 'POST', path: `/acquirebystate${q}` });
  out.push({ method: 'GET', path: '/metric' });
  // releases: auth, bodies, ids
  const auths = [undefined, 'Bearer', 'Bearer wrong', 'Basic dGVzdA==', `bearer ${API_TOKEN}x`, `Bearer ${API_TOKEN} extra`];
  for (const auth of auths) out.push({ method: 'POST', path: '/api/releases', body: '{"service":"web","version":"1"}', type: 'application/json', auth });
  const releaseBodies = ['{}', '{"service":"web"}', '{"version":"1"}', '{"service":"Web!","version":"1"}', '{"service":"web","version":""}', '{"service":"web","version":1}',
    '{"service":"web","version":"1","attributes":{"a":1}}', '{"service":"web","version":"1","attributes":[]}', '{"service":"web","version":"1","template":"{{#a}}"}',
    '{"service":"web","version":"1","template":"kind: [unclosed"}', '{"service":"web","version":"1","template":"just: text"}', '{"service":"web","version":"1","template":"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {}"}',
    '{', 'null', '[]'];
  for (const body of releaseBodies) out.push({ method: 'POST', path: '/api/releases', body, type: 'application/json', auth: `Bearer ${API_TOKEN}` });
  out.push({ method: 'POST', path: '/api/releases', body: JSON.stringify({ service: 'web', version: '1', template: 'x'.repeat(70 * 1024) }), type: 'application/json', auth: `Bearer ${API_TOKEN}` });
  for (const id of ['nope', '..%2F..%2Fetc', '%00', 'a'.repeat(90), 'a'.repeat(150), '../state', 'web%2Fr-1']) {
    out.push({ method: 'GET', path: `/api/releases/${id}` });
    out.push({ method: 'DELETE', path: `/api/releases/${id}`, auth: `Bearer ${API_TOKEN}` });
  }
  out.push({ method: 'DELETE', path: '/api/releases/nope' });
  for (const q of ['?limit=-1', '?limit=abc', '?limit=100000', '?offset=-5', '?sort=evil', '?order=sideways']) out.push({ method: 'GET', path: `/api/releases${q}` });
  // workspaces
  for (const auth of auths) out.push({ method: 'POST', path: '/api/workspaces', body: '{}', type: 'application/json', auth });
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhWQ0xlYWtlZEtleUZvckRlbW9Pbmx5MTIzNDU2Nzg5 u@x';
  const ws = (o: Record<string, unknown>) => JSON.stringify({ email: 'u@example.com', ram: 2, cpu: 1, storage: '10Gi', publicKey: key, ...o });
  for (const body of [ws({ email: 'not-an-email' }), ws({ email: '' }), ws({ ram: 0 }), ws({ ram: -1 }), ws({ ram: 10_000 }), ws({ ram: 'lots' }), ws({ cpu: 0 }), ws({ cpu: 1000 }),
    ws({ storage: 'big' }), ws({ storage: '-5Gi' }), ws({ publicKey: 'not a key' }), ws({ publicKey: 'ssh-rsa !!!!' }), ws({ publicKey: `${key}\nssh-rsa AAAA` }), ws({ publicKey: 'ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFhW' }),
    '{"Email":"u@example.com","Specification":{"RAM":"x","CPU":"1","PublicKey":"k"}}', '{"Email":"u@example.com"}', '{', '[]', 'null'])
    out.push({ method: 'POST', path: '/api/workspaces', body, type: 'application/json', auth: `Bearer ${API_TOKEN}` });
  for (const name of ['nope', 'Bad_Name', '..%2F..%2Fetc', '%00', 'a'.repeat(70)]) {
    out.push({ method: 'GET', path: `/api/workspaces/${name}` });
    out.push({ method: 'DELETE', path: `/api/workspaces/${name}`, auth: `Bearer ${API_TOKEN}` });
  }
  // unknown routes and methods
  for (const p of ['/', '/gc', '/api', '/api/nope', '/admin', '/.git/config', '/state/removals/g-0.yaml', '/%2e%2e/%2e%2e/etc/passwd', '/api/releases/../../state']) {
    out.push({ method: 'GET', path: p });
    out.push({ method: 'POST', path: p, body: '{}', type: 'application/json' });
  }
  for (const p of ['/healthz', '/metric', '/api/releases']) out.push({ method: 'PATCH', path: p, body: '{}', type: 'application/json' });
  out.push({ method: 'POST', path: base('g-0').replace(/^https?:\/\/[^/]+/, ''), body: '{"label":"group_id=g-0"}', type: 'text/xml' });
  // the token of each group, flipped in one character: right shape, wrong HMAC
  for (const g of ['g-0', 'g-1', 'g-2']) {
    const token = base(g).split('/gc/')[1];
    for (let i = 0; i < 8; i++) {
      const flipped = token.slice(0, i * 5) + (token[i * 5] === 'A' ? 'B' : 'A') + token.slice(i * 5 + 1);
      out.push({ method: 'POST', path: `/gc/${flipped}`, body: JSON.stringify({ label: `group_id=${g}` }), type: 'application/json' });
    }
  }
  // wrong methods on write routes
  for (const p of ['/acquire', '/release', '/update', '/reset', '/acquirebystate']) out.push({ method: 'DELETE', path: p });
  return out;
}

describe('malformed input', () => {
  let s: TestSidecar;
  beforeAll(async () => {
    s = await startSidecar({
      files: {
        'g.ts': groupsSource(3),
        'pool.ts': poolSource('p', 2),
      },
    });
  });
  afterAll(() => s.close());

  it('GIVEN 200+ malformed requests WHEN sent THEN every one is a 4xx with {error, code}, none a 5xx, and HEAD is unchanged', async () => {
    // p-1 is held by "o", so owner and state mismatches are real ones.
    const held = await fetch(`${s.url}/acquire?type=p&state=free&dest=busy&owner=o`, { method: 'POST' });
    expect(held.status).toBe(200);
    const head = gitOut(s.remote, 'rev-parse', 'main');
    const all = cases((g) => gcUrl(s.url, TEST_SECRET, g));
    expect(all.length).toBeGreaterThanOrEqual(200);
    const bad: string[] = [];
    for (const c of all) {
      const headers: Record<string, string> = {};
      if (c.type) headers['content-type'] = c.type;
      if (c.auth) headers.authorization = c.auth;
      const res = await fetch(`${s.url}${c.path}`, { method: c.method, headers, body: c.body });
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const ok = res.status >= 400 && res.status < 500 && typeof json?.error === 'string' && json.error.length > 3 && /^[A-Z][A-Za-z]+$/.test(json?.code ?? '');
      if (!ok) bad.push(`${c.method} ${c.path.slice(0, 80)} ${c.body?.slice(0, 60) ?? ''} -> ${res.status} ${text.slice(0, 120)}`);
    }
    expect(bad).toEqual([]);
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(head);
  }, 120_000);
});
