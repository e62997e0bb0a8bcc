/**
 * kubernaut's deployments, with no HTTP in them: a release sent to a context. A context is a
 * `Release` of the service (its `context` prop: that group, deployed where its Environment's
 * destination says) that follows deployments (`follows: 'deployed'`); one that follows every
 * release takes no deployments. Deploying makes the release the one that runs there; deleting a
 * deployment rolls that context alone back to the deployment before.
 *
 * Owns: which context a deployment may name, and how deployments are shown. Must not touch: HTTP, git.
 */
import { deployedRelease, type DeploymentRecord, type ReleaseRecord } from '../../core/records.ts';
import { UserError } from '../errors.ts';
import type { ReleaseTarget } from '../synth/synthesize.ts';

/** The `Release` that renders `service` in `context`; UnknownContext or Conflict when a deployment cannot go there. */
export function deploymentTarget(service: string, context: string, targets: readonly ReleaseTarget[]): ReleaseTarget {
  const target = targets.find((t) => t.rules.context === context);
  if (!target) {
    const known = targets.filter((t) => t.rules.follows === 'deployed').map((t) => t.rules.context).sort();
    throw new UserError('UnknownContext', `service "${service}" has no context "${context}"${known.length ? `; its contexts: ${known.join(', ')}` : ' that takes deployments'}`);
  }
  if (target.rules.follows !== 'deployed') {
    throw new UserError('Conflict', `context "${context}" of service "${service}" runs every release posted (its Release follows 'latest'), so it takes no deployments`);
  }
  return target;
}

/** A deployment as the API shows it: `active` when it is the one in force in its context. */
export function publicDeployment(d: DeploymentRecord, releases: readonly ReleaseRecord[], deployments: readonly DeploymentRecord[]) {
  return {
    id: d.id,
    service: d.service,
    release: d.release,
    version: d.version,
    context: d.context,
    createdAt: d.createdAt,
    active: !d.deletedAt && deployedRelease(releases, deployments, d.context)?.deployment.id === d.id,
    ...(d.deletedAt ? { deletedAt: d.deletedAt } : {}),
  };
}

/** Newest first, ties by id. */
export function newestFirst(a: DeploymentRecord, b: DeploymentRecord): number {
  return Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
