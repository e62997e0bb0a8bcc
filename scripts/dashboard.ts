/** Writes dashboards/paddock.json from the dashboard the control plane ships (`npm run dashboard`). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { dashboardJson } from '../constructs/private/dashboard.ts';
import { REPO_ROOT } from './bench/lib.ts';

const file = path.join(REPO_ROOT, 'dashboards/paddock.json');
writeFileSync(file, dashboardJson());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
