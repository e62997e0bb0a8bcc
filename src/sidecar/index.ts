/** The sidecar's route modules, in the order they are registered. */
import { gcRoutes } from './routes/gc.ts';
import { leaseRoutes } from './routes/leases.ts';
import { opsRoutes } from './routes/ops.ts';
import { releaseRoutes } from './routes/releases.ts';
import { deploymentRoutes } from './routes/deployments.ts';
import { workspaceRoutes } from './routes/workspaces.ts';
import type { RouteModule } from './server.ts';

export { buildSidecar, BODY_LIMIT, type SidecarDeps, type Mailer } from './server.ts';
export { Metrics } from './metrics.ts';

export const ALL_ROUTES: readonly RouteModule[] = [opsRoutes, gcRoutes, leaseRoutes, releaseRoutes, deploymentRoutes, workspaceRoutes];
