import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadDefinitions } from '../src/synth/index.ts';
import { validateObject } from '../src/synth/validate.ts';
import { definitionsDir, objectAt, synthDir, synthSource } from './helpers/synth.ts';

describe('loading definition files', () => {
  it('GIVEN a definitions dir outside the repo importing from "paddock" WHEN synthesized THEN its constructs are paddock\'s own', async () => {
    const result = await synthSource(`
      import { ApiObject } from 'cdk8s';
      import { Environment } from 'paddock';
      export default (scope) => {
        const env = new Environment(scope, 'outside', { namespace: 'ns1' });
        new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: 'b' } });
      };`);
    expect(objectAt(result, 'groups/outside/configmap-cm.yaml').metadata.labels['paddock.dev/group']).toBe('outside');
  });

  it('GIVEN the shared packages imported by name, as a namespace, as a default, by require(), from an .mts file and by a file inside them WHEN synthesized THEN every one is paddock\'s own instance', async () => {
    const cm = (name: string) => `{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '${name}' }, data: { a: 'b' } }`;
    const result = await synthDir(definitionsDir({
      'a.ts': `
        import { ApiObject } from 'cdk8s';
        import * as ns from 'cdk8s';
        import whole from 'cdk8s';
        import { ApiObject as Inside } from 'cdk8s/lib/api-object';
        import { Environment } from 'paddock';
        const required = require('cdk8s');
        export default (scope) => {
          const env = new Environment(scope, 'forms', { namespace: 'ns1' });
          new ApiObject(env, 'named', ${cm('named')});
          new ns.ApiObject(env, 'ns', ${cm('ns')});
          new whole.ApiObject(env, 'whole', ${cm('whole')});
          new required.ApiObject(env, 'required', ${cm('required')});
          new Inside(env, 'inside', ${cm('inside')});
        };`,
      'b.mts': `
        import cdk8s from 'cdk8s';
        import paddock from 'paddock';
        export default (scope) => {
          const env = new paddock.Environment(scope, 'node-mode', { namespace: 'ns1' });
          new cdk8s.ApiObject(env, 'cm', ${cm('node-mode')});
        };`,
    }));
    for (const name of ['named', 'ns', 'whole', 'required', 'inside']) {
      expect(objectAt(result, `groups/forms/configmap-${name}.yaml`).metadata.labels['paddock.dev/group']).toBe('forms');
    }
    expect(objectAt(result, 'groups/node-mode/configmap-node-mode.yaml').metadata.labels['paddock.dev/group']).toBe('node-mode');
  });

  it('GIVEN a file that does not default-export a function WHEN loaded THEN the error names the file', async () => {
    const dir = definitionsDir({ 'bad.ts': 'export const x = 1;', 'good.ts': 'export default () => {};' });
    const { definitions, errors } = await loadDefinitions(dir);
    expect(definitions.map((d) => d.absPath.split('/').pop())).toEqual(['good.ts']);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/bad\.ts: must default-export a function/);
  });

  it('GIVEN a file with a syntax error WHEN loaded THEN the error names the file and line, and other files still load', async () => {
    const dir = definitionsDir({ 'broken.ts': 'export default (scope) => {\n  const = 3;\n};', 'fine.ts': 'export default () => {};' });
    const { definitions, errors } = await loadDefinitions(dir);
    expect(definitions).toHaveLength(1);
    expect(errors[0].message).toMatch(/broken\.ts: line 2:\d+: /);
  });

  it('GIVEN a definition importing a local helper WHEN loaded THEN the helper is among its inputs', async () => {
    const dir = definitionsDir({ 'app.ts': "import { ns } from './lib/common';\nexport default () => { void ns; };", 'lib/common.ts': "export const ns = 'x';" });
    const { definitions } = await loadDefinitions(dir);
    expect(definitions[0].inputs).toEqual([path.join(dir, 'app.ts'), path.join(dir, 'lib/common.ts')]);
  });

  it('GIVEN a definition using import.meta, node built-ins and a thrown error WHEN loaded THEN import.meta is its own file, built-ins work, and the throw is one line naming the file', async () => {
    const dir = definitionsDir({
      'meta.ts': "import { readFileSync } from 'node:fs';\nimport { pathToFileURL } from 'node:url';\n" +
        "if (!readFileSync(import.meta.filename, 'utf8').includes('pathToFileURL')) throw new Error('import.meta.filename is not this file');\n" +
        "if (import.meta.url !== pathToFileURL(import.meta.dirname + '/meta.ts').href) throw new Error(`import.meta.url is ${import.meta.url}`);\n" +
        'export default () => {};',
      'throws.ts': "throw new Error('no cluster config here');\nexport default () => {};",
      'tla.ts': 'const x = await Promise.resolve(1);\nexport default () => { void x; };',
    });
    const { definitions, errors } = await loadDefinitions(dir);
    expect(definitions.map((d) => path.basename(d.absPath))).toEqual(['meta.ts']);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/throws\.ts: fails to load: no cluster config here$/),
      expect.stringMatching(/tla\.ts: line 1:\d+: top-level await is not supported in a definition file/),
    ]);
  });

  it('GIVEN two definitions importing one local helper WHEN loaded together THEN the helper is one module, and it is among the inputs of both', async () => {
    const dir = definitionsDir({
      'lib/shared.ts': 'export const made: string[] = [];\nexport const label = (name: string) => { made.push(name); return made; };',
      'a.ts': "import { label } from './lib/shared';\nexport const seen = label('a');\nexport default () => { if (seen.length !== 2) throw new Error(`a sees ${seen}`); };",
      'b.ts': "import { label } from './lib/shared';\nexport const seen = label('b');\nexport default () => { if (seen.length !== 2) throw new Error(`b sees ${seen}`); };",
    });
    const { definitions, errors } = await loadDefinitions(dir);
    expect(errors).toEqual([]);
    expect(definitions.map((d) => path.basename(d.absPath))).toEqual(['a.ts', 'b.ts']);
    for (const d of definitions) {
      expect(d.inputs).toEqual([d.absPath, path.join(dir, 'lib/shared.ts')].sort());
      expect(() => d.build(undefined as never)).not.toThrow();
    }
  });

  it('GIVEN definitions loaded together, some using import.meta (however spaced, after a #! line), one through a helper, and some not WHEN loaded THEN each that uses it sees its own file, and the others get no declaration', async () => {
    // Each checks what it saw when built, not at load: a throw at load would load each file on its own.
    const own = (name: string, expr: string) => `export default () => { if (${expr} !== ${JSON.stringify(name)}) throw new Error(\`${name} sees \${${expr}}\`); };\n`;
    const dir = definitionsDir({
      'lib/where.ts': 'export const helperFile = import.meta.filename;',
      'a.ts': `import { helperFile } from './lib/where';\nconst mine = import.meta.filename;\nexport const both = () => [mine, helperFile].map((f) => f.split('/').pop()).join(' ');\n${own('a.ts where.ts', 'both()')}`,
      'b.ts': `const spaced = import\n  .meta.url;\n${own('b.ts', "spaced.split('/').pop()")}`,
      // Not a word of c.ts is "meta": it gets no declaration, and the name the defines bind to is the bundle's own.
      'c.ts': `export const metadata = { name: 'c' };\ndeclare const __paddock_meta_url: string;\n${own('(definitions)', "__paddock_meta_url.split('/').pop()")}`,
      'd.ts': own('d.ts', "import.meta.url.split('/').pop()"),
      'e.ts': `#!/usr/bin/env node\n${own('e.ts', "import.meta.url.split('/').pop()")}`,
      'f.ts': '#!/usr/bin/env node\nexport default () => {};',
    });
    const { definitions, errors } = await loadDefinitions(dir);
    expect(errors).toEqual([]);
    expect(definitions.map((d) => path.basename(d.absPath))).toEqual(['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts', 'f.ts']);
    for (const d of definitions) expect(() => d.build(undefined as never)).not.toThrow();
  });

  it('GIVEN definition files naming built-in kinds WHEN loaded THEN those kinds can be validated before anything prepares them (the loader started loading them)', async () => {
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web' }, spec: { minAvailable: 1 } };
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 3 } };
    expect(() => validateObject(pdb)).toThrow(/were not prepared/);
    expect(() => validateObject(hpa)).toThrow(/were not prepared/);
    const dir = definitionsDir({
      'pdb.ts': "export default () => { void { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' }; };",
      'hpa.ts': 'export default () => { void KubeHorizontalPodAutoscaler; };\ndeclare const KubeHorizontalPodAutoscaler: unknown;',
    });
    await loadDefinitions(dir);
    await vi.waitFor(() => {
      expect(validateObject(pdb)).toBeUndefined();
      expect(validateObject(hpa)).toBeUndefined();
    }, { timeout: 10_000 });
    expect(validateObject({ ...pdb, spec: { minAvailable: 1, selectr: {} } })).toMatchObject({ field: 'spec.selectr' });
  });
});
